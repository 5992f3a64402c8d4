package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cacheEntry writes a fake rendering of n bytes, last modified at mod.
func cacheEntry(t *testing.T, dir, seed string, n int, mod time.Time) string {
	t.Helper()
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:])
	p := filepath.Join(dir, h[:2], h+".wav")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, n), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// fakeEspeak is an Espeak over a cache dir whose binary renders nothing
// (true): enough for sweeping.
func fakeEspeak(t *testing.T, dir string, maxBytes int64, maxAge time.Duration) *Espeak {
	t.Helper()
	e, err := NewEspeak(EspeakOptions{Path: "true", CacheDir: dir, CacheMaxBytes: maxBytes, CacheMaxAge: maxAge})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSpeechCacheSweep: the least recently used renderings go until the
// rest fit, those unused for longer than the age bound go too, a file
// that is not a rendering is left alone, and a cache without bounds
// keeps everything.
func TestSpeechCacheSweep(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		maxBytes int64
		maxAge   time.Duration
		kept     []int // of the entries aged 5h, 4h, 3h, 2h, 1h (index 0 oldest)
	}{
		{"unbounded", 0, 0, []int{0, 1, 2, 3, 4}},
		{"by size", 2500, 0, []int{3, 4}},
		{"by age", 0, 150 * time.Minute, []int{3, 4}},
		{"size under age", 10000, 210 * time.Minute, []int{2, 3, 4}},
		{"age under size", 1000, 10 * time.Hour, []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for i := range 5 {
				paths = append(paths, cacheEntry(t, dir, fmt.Sprint(i), 1000, now.Add(-time.Duration(5-i)*time.Hour)))
			}
			other := filepath.Join(dir, "README")
			if err := os.WriteFile(other, make([]byte, 50000), 0o640); err != nil {
				t.Fatal(err)
			}
			// NewEspeak sweeps what an earlier run left.
			fakeEspeak(t, dir, tt.maxBytes, tt.maxAge)
			for i, p := range paths {
				want := false
				for _, k := range tt.kept {
					want = want || k == i
				}
				if got := exists(p); got != want {
					t.Errorf("entry %d (%dh old): kept %v, want %v", i, 5-i, got, want)
				}
			}
			if !exists(other) {
				t.Error("a file that is not a rendering was removed")
			}
		})
	}
}

// TestSpeechCacheNeverEvictsInUse: a held rendering survives any sweep
// until released, a released one for speechGrace after, and then goes.
func TestSpeechCacheNeverEvictsInUse(t *testing.T) {
	e := newTestEspeak(t)
	e.cache.maxBytes, e.cache.maxAge = 1, time.Minute // everything is over the bounds
	ctx := context.Background()
	path, release, err := e.Hold(ctx, "Your appointment is tomorrow.", "", "en")
	if err != nil {
		t.Fatal(err)
	}
	e.cache.wg.Wait() // the sweep the rendering started
	spoken, err := e.Speak(ctx, "Another text.", "", "en")
	if err != nil {
		t.Fatal(err)
	}
	e.cache.wg.Wait()
	start := time.Now()
	e.cache.now = func() time.Time { return start.Add(24 * time.Hour) }
	if _, err := e.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(path) {
		t.Fatal("a held rendering was evicted")
	}
	if exists(spoken) {
		t.Error("a rendering released a day ago was kept above the bounds")
	}
	release()
	release() // a second release does nothing
	if n, err := e.Sweep(ctx); err != nil || n != 0 || !exists(path) {
		t.Fatalf("sweep right after release: removed %d, err %v, kept %v; want it kept for the grace period", n, err, exists(path))
	}
	e.cache.now = func() time.Time { return start.Add(24*time.Hour + speechGrace + time.Second) }
	if n, err := e.Sweep(ctx); err != nil || n != 1 || exists(path) {
		t.Fatalf("sweep after the grace period: removed %d, err %v, kept %v; want it removed", n, err, exists(path))
	}
	// Spoken again, it is rendered again.
	again, err := e.Speak(ctx, "Your appointment is tomorrow.", "", "en")
	if err != nil || again != path || !exists(again) {
		t.Fatalf("speak after eviction: %q, %v", again, err)
	}
}

// TestSpeechCacheSweepsAfterRendering: a new rendering over the size bound
// evicts the oldest unused ones, not itself.
func TestSpeechCacheSweepsAfterRendering(t *testing.T) {
	e := newTestEspeak(t)
	old := []string{
		cacheEntry(t, e.dir, "a", 4<<20, time.Now().Add(-2*time.Hour)),
		cacheEntry(t, e.dir, "b", 4<<20, time.Now().Add(-time.Hour)),
	}
	e.cache.maxBytes = 5 << 20
	path, err := e.Speak(context.Background(), "Hello from the cache test.", "", "en")
	if err != nil {
		t.Fatal(err)
	}
	e.cache.wg.Wait()
	if exists(old[0]) || !exists(old[1]) || !exists(path) {
		t.Fatalf("after a rendering over the bound: oldest kept %v, newer kept %v, new kept %v; want false, true, true",
			exists(old[0]), exists(old[1]), exists(path))
	}
}

// TestSpeechCacheRemovesAbandonedScratch: the scratch directory of a
// rendering a killed process left is removed after an hour; a fresh one (a
// rendering in progress) is kept.
func TestSpeechCacheRemovesAbandonedScratch(t *testing.T) {
	dir := t.TempDir()
	old, fresh := filepath.Join(dir, ".speak-111"), filepath.Join(dir, ".speak-222")
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "espeak.wav"), make([]byte, 100), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	fakeEspeak(t, dir, 1<<20, 0)
	if exists(old) || !exists(fresh) {
		t.Errorf("abandoned scratch kept %v, fresh scratch kept %v; want false, true", exists(old), exists(fresh))
	}
}

// A background sweep that fails is told to SweepFailed (dialerd logs it)
// rather than dropped.
func TestSpeechCacheSweepFailureIsTold(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "data")
	var got []error
	e, err := NewEspeak(EspeakOptions{Path: "true", CacheDir: filepath.Join(parent, "tts"), CacheMaxBytes: 1 << 20,
		SweepFailed: func(err error) { got = append(got, err) }})
	if err != nil {
		t.Fatal(err)
	}
	// The cache's parent directory becomes a file: the walk cannot start.
	if err := os.RemoveAll(parent); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.sweepSoon(true)
	e.cache.wg.Wait()
	if len(got) != 1 {
		t.Fatalf("SweepFailed told %v, want one error", got)
	}
}
