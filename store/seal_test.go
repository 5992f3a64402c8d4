package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func testSealer(t *testing.T, b byte) *sealer {
	t.Helper()
	s, err := newSealer(bytes.Repeat([]byte{b}, SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := testSealer(t, 1)
	for _, plain := range []string{"x", "trunk-password", "pässwörd ☎", strings.Repeat("long", 1000), "with\x00nul"} {
		sealed, err := s.seal(plain, "providers.password_sealed|t1")
		if err != nil {
			t.Fatal(err)
		}
		// (a one-letter secret may appear in base64 by chance)
		if !strings.HasPrefix(sealed, "v1:") || len(plain) > 3 && strings.Contains(sealed, plain) {
			t.Errorf("sealed %q as %q", plain, sealed)
		}
		again, _ := s.seal(plain, "providers.password_sealed|t1")
		if again == sealed {
			t.Errorf("two seals of %q are equal: the nonce is not random", plain)
		}
		got, err := s.unseal(sealed, "providers.password_sealed|t1")
		if err != nil || got != plain {
			t.Errorf("unseal(seal(%q)) = %q, %v", plain, got, err)
		}
	}
	// No secret stays empty, and needs no key either way.
	if sealed, err := s.seal("", "a"); sealed != "" || err != nil {
		t.Errorf("seal(\"\") = %q, %v", sealed, err)
	}
	var none *sealer
	if got, err := none.unseal("", "a"); got != "" || err != nil {
		t.Errorf("unseal(\"\") without a key = %q, %v", got, err)
	}
	if _, err := none.seal("secret", "a"); !errors.Is(err, ErrNoSealKey) {
		t.Errorf("seal without a key: %v, want ErrNoSealKey", err)
	}
	if _, err := none.unseal("v1:AAAA", "a"); !errors.Is(err, ErrNoSealKey) {
		t.Errorf("unseal without a key: %v, want ErrNoSealKey", err)
	}
}

func TestSealRejectsBadKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := newSealer(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "d.db"), WithSealKey([]byte("short"))); err == nil {
		t.Error("Open accepted a short seal key")
	}
}

func TestSealDetectsTampering(t *testing.T) {
	s := testSealer(t, 1)
	const aad = "accounts.passwd_sealed|t1"
	sealed, err := s.seal("extension-secret", aad)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	reseal := func(b []byte) string { return "v1:" + base64.RawStdEncoding.EncodeToString(b) }
	cases := map[string]struct{ sealed, aad string }{
		"other tenant":   {sealed, "accounts.passwd_sealed|t2"},
		"other column":   {sealed, "accounts.pin_sealed|t1"},
		"unknown prefix": {"v2:" + strings.TrimPrefix(sealed, "v1:"), aad},
		"no prefix":      {strings.TrimPrefix(sealed, "v1:"), aad},
		"not base64":     {"v1:***", aad},
		"truncated":      {reseal(raw[:len(raw)-1]), aad},
		"too short":      {reseal(raw[:8]), aad},
		"empty body":     {"v1:", aad},
	}
	// Every single flipped bit, in nonce, ciphertext and tag, is noticed.
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		cases[fmt.Sprintf("bit flipped in byte %d", i)] = struct{ sealed, aad string }{reseal(b), aad}
	}
	for name, tc := range cases {
		got, err := s.unseal(tc.sealed, tc.aad)
		if !errors.Is(err, ErrSealBroken) {
			t.Errorf("%s: unseal = %q, %v; want ErrSealBroken", name, got, err)
		}
	}
	if got, err := testSealer(t, 2).unseal(sealed, aad); !errors.Is(err, ErrSealBroken) {
		t.Errorf("another key opened the seal: %q, %v", got, err)
	}
}

// FuzzUnseal feeds stored values the daemon did not write: they never open
// and never panic.
func FuzzUnseal(f *testing.F) {
	s, err := newSealer(bytes.Repeat([]byte{7}, SealKeySize))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.seal("secret", "x")
	for _, seed := range []string{good, "", "v1:", "v1:AAAA", "v2:" + good[3:], good[:len(good)-2]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := s.unseal(in, "y")
		if err == nil && in != "" {
			t.Fatalf("unseal(%q) opened as %q under the wrong additional data", in, got)
		}
	})
}

func BenchmarkSealUnseal(b *testing.B) {
	s, err := newSealer(bytes.Repeat([]byte{3}, SealKeySize))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sealed, err := s.seal("trunk-password-0123456789", "providers.password_sealed|t")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.unseal(sealed, "providers.password_sealed|t"); err != nil {
			b.Fatal(err)
		}
	}
}
