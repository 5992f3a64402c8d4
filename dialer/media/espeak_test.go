package media

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func newTestEspeak(t *testing.T) *Espeak {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("espeak-ng (Debian package espeak-ng) is not installed; make test-deps installs it")
		}
		t.Skip("espeak-ng (Debian package espeak-ng) is not installed")
	}
	e, err := NewEspeak(EspeakOptions{CacheDir: filepath.Join(t.TempDir(), "tts")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEspeakRendersTelephonyWAV: the real espeak-ng's output becomes an
// 8 kHz mono WAV, rendered once for any number of concurrent requests of
// one text and voice; a text that starts like an option is spoken.
func TestEspeakRendersTelephonyWAV(t *testing.T) {
	e := newTestEspeak(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = e.Speak(ctx, "--help me, please.", "", "en-US") })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("request %d: %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := DecodeAudio(f, 1<<26)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != TelephonyRate || p.Channels != 1 || p.Duration() < 500*time.Millisecond {
		t.Errorf("rendering %d Hz, %d channels, %v", p.Rate, p.Channels, p.Duration())
	}
	other, err := e.Speak(ctx, "--help me, please.", "f3", "en-US")
	if err != nil || other == paths[0] {
		t.Errorf("another voice: %q, %v", other, err)
	}
	left, _ := filepath.Glob(filepath.Join(e.dir, ".speak-*"))
	if len(left) != 0 {
		t.Errorf("scratch left behind: %v", left)
	}
}

func TestEspeakRefusals(t *testing.T) {
	if _, err := NewEspeak(EspeakOptions{Path: "/nonexistent/espeak-ng", CacheDir: t.TempDir()}); !errors.Is(err, ErrNoEspeak) {
		t.Errorf("missing binary: %v, want ErrNoEspeak", err)
	}
	e := newTestEspeak(t)
	ctx := context.Background()
	for _, tc := range []struct{ voice, lang string }{{"", "xx"}, {"", "en us"}, {"a+b", "en"}} {
		if _, err := e.Speak(ctx, "Hello.", tc.voice, tc.lang); !errors.Is(err, ErrSpeech) {
			t.Errorf("voice %q language %q: %v, want ErrSpeech", tc.voice, tc.lang, err)
		}
	}
}

// TestEspeakCheckVoice: the languages and variants espeak-ng lists are
// accepted, others refused naming the field, before anything is rendered.
func TestEspeakCheckVoice(t *testing.T) {
	e := newTestEspeak(t)
	tests := []struct{ lang, voice, field string }{
		{"", "", ""}, {"en", "", ""}, {"en-US", "f3", ""}, {"pt-BR", "klatt", ""},
		{"xx", "", "language"}, {"en-ZZ", "", "language"}, {"en", "nosuchvoice", "voice"}, {"en us", "", "language"},
	}
	for _, tt := range tests {
		field, err := e.CheckVoice(tt.lang, tt.voice)
		if field != tt.field || (err == nil) != (tt.field == "") {
			t.Errorf("CheckVoice(%q, %q) = %q, %v; want %q", tt.lang, tt.voice, field, err, tt.field)
		}
	}
}

// BenchmarkEspeakSpeak: a rendering of a new sentence (espeak-ng run and
// converted to 8 kHz), and a cached one (what every call of a campaign
// after the first costs).
func BenchmarkEspeakSpeak(b *testing.B) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		b.Skip("espeak-ng is not installed")
	}
	e, err := NewEspeak(EspeakOptions{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("render", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := e.Speak(ctx, "Your appointment number "+strconv.Itoa(i)+" is tomorrow at ten.", "", "en-US"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		if _, err := e.Speak(ctx, "Your appointment is tomorrow at ten.", "", "en-US"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := e.Speak(ctx, "Your appointment is tomorrow at ten.", "", "en-US"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
