package sip

import (
	"os"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer/media"
)

func TestRecordingCache(t *testing.T) {
	short, long := tone(100*time.Millisecond), tone(300*time.Millisecond)
	rewrite := func(t *testing.T, path string, samples []int16, mod time.Time) {
		t.Helper()
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := media.WriteWAV(f, media.TelephonyRate, samples); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("a second call shares the decoded samples", func(t *testing.T) {
		c := newRecordingCache(1 << 20)
		path := writeWAV(t, short)
		a, err := c.load(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(short) || &a[0] != &b[0] {
			t.Fatalf("second load decoded again or differs: %d samples, shared %v", len(b), &a[0] == &b[0])
		}
	})
	t.Run("a changed file is read again", func(t *testing.T) {
		c := newRecordingCache(1 << 20)
		path := writeWAV(t, short)
		if _, err := c.load(path); err != nil {
			t.Fatal(err)
		}
		rewrite(t, path, long, time.Now().Add(time.Hour))
		got, err := c.load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(long) {
			t.Fatalf("after the file changed: %d samples, want %d", len(got), len(long))
		}
		if c.bytes != int64(2*len(long)) {
			t.Fatalf("cache holds %d bytes, want %d", c.bytes, 2*len(long))
		}
	})
	t.Run("the bound is kept", func(t *testing.T) {
		limit := int64(2*len(long)) + 100 // room for one long recording
		c := newRecordingCache(limit)
		for range 3 {
			if _, err := c.load(writeWAV(t, long)); err != nil {
				t.Fatal(err)
			}
			if c.bytes > limit || len(c.entries) != 1 {
				t.Fatalf("%d bytes in %d entries, limit %d", c.bytes, len(c.entries), limit)
			}
		}
		tiny := newRecordingCache(10)
		if got, err := tiny.load(writeWAV(t, short)); err != nil || len(got) != len(short) {
			t.Fatalf("a recording over the limit is still played: %d samples, %v", len(got), err)
		}
		if len(tiny.entries) != 0 {
			t.Fatal("a recording over the limit was kept")
		}
	})
	t.Run("errors", func(t *testing.T) {
		c := newRecordingCache(1 << 20)
		if _, err := c.load(""); err == nil {
			t.Fatal("no path accepted")
		}
		if _, err := c.load(t.TempDir() + "/missing.wav"); err == nil {
			t.Fatal("a missing file accepted")
		}
	})
}
