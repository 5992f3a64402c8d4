package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// speechGrace is how long a rendering Speak returned (or Hold
	// released) is never evicted: the SIP gateway decodes it right after,
	// and a campaign speaking one text keeps it fresh.
	speechGrace = 10 * time.Minute
	// speechSweepEvery is how often, at most, use of the cache sweeps it
	// for age when nothing new was rendered.
	speechSweepEvery = time.Hour
	// speechScratchAge is when a rendering's scratch directory is surely
	// abandoned: a rendering is bounded by its timeout (seconds).
	speechScratchAge = time.Hour
)

var speechFile = regexp.MustCompile(`^[0-9a-f]{64}\.wav$`)

// speechCache is the eviction state of Espeak's renderings (guarded by
// Espeak.mu): who holds one, when each was last spoken.
type speechCache struct {
	maxBytes int64
	maxAge   time.Duration
	now      func() time.Time // time.Now; tests move it
	failed   func(error)      // EspeakOptions.SweepFailed

	held      map[string]int       // hash → holders
	used      map[string]time.Time // hash → last Speak/Hold/release in this process
	sweeping  bool
	lastSweep time.Time
	wg        sync.WaitGroup // the sweep in flight, for tests
}

// holdLocked holds rendering h until the returned release; e.mu is held.
func (e *Espeak) holdLocked(h string) func() {
	e.cache.held[h]++
	e.cache.used[h] = e.cache.now()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.cache.held[h]--; e.cache.held[h] <= 0 {
				delete(e.cache.held, h)
			}
			e.cache.used[h] = e.cache.now()
		})
	}
}

// inUseLocked: a rendering held, being rendered, or spoken within
// speechGrace is never evicted.
func (e *Espeak) inUseLocked(h string, now time.Time) bool {
	if e.cache.held[h] > 0 || e.running[h] != nil {
		return true
	}
	t, ok := e.cache.used[h]
	return ok && now.Sub(t) < speechGrace
}

// sweepSoon starts a sweep in the background after a new rendering, or
// when none ran for speechSweepEvery; one at a time.
func (e *Espeak) sweepSoon(rendered bool) {
	if e.cache.maxBytes <= 0 && e.cache.maxAge <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache.sweeping || (!rendered && e.cache.now().Sub(e.cache.lastSweep) < speechSweepEvery) {
		return
	}
	e.cache.sweeping = true
	e.cache.wg.Add(1)
	go func() {
		defer e.cache.wg.Done()
		// A failed sweep is tried again at the next rendering; Speak's
		// caller is not the one to tell.
		if _, err := e.Sweep(context.Background()); err != nil && e.cache.failed != nil {
			e.cache.failed(err)
		}
		e.mu.Lock()
		e.cache.sweeping = false
		e.mu.Unlock()
	}()
}

type speechEntry struct {
	hash, path string
	size       int64
	last       time.Time
}

// Sweep bounds the cache: it removes renderings unused for longer than
// CacheMaxAge, then the least recently used until what is left fits in
// CacheMaxBytes, skipping every one in use (held, being rendered, spoken
// within speechGrace), which may so leave the cache above its bound until
// they are released. Last use is what this process saw, else the file's
// modification time (its rendering). Scratch directories a killed
// rendering left are removed after speechScratchAge. It returns how many
// renderings it removed.
// Espeak sweeps at start, after each rendering and hourly while used.
func (e *Espeak) Sweep(ctx context.Context) (int, error) {
	var (
		entries []speechEntry
		stale   []string
	)
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != e.dir && strings.HasPrefix(d.Name(), ".speak-") {
				// A rendering's scratch: in progress, or left by a process
				// killed mid-rendering (no rendering runs for an hour).
				if info, err := d.Info(); err == nil && e.cache.now().Sub(info.ModTime()) > speechScratchAge {
					stale = append(stale, p)
				}
				return fs.SkipDir
			}
			return nil
		}
		if !speechFile.MatchString(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed while we walked
		}
		entries = append(entries, speechEntry{hash: strings.TrimSuffix(d.Name(), ".wav"), path: p, size: info.Size(), last: info.ModTime()})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("media: speech cache sweep: %w", err)
	}
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			return 0, fmt.Errorf("media: speech cache: %w", err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cache.now()
	e.cache.lastSweep = now
	var total int64
	for i := range entries {
		if t, ok := e.cache.used[entries[i].hash]; ok && t.After(entries[i].last) {
			entries[i].last = t
		}
		total += entries[i].size
	}
	slices.SortFunc(entries, func(a, b speechEntry) int { return a.last.Compare(b.last) })
	removed := 0
	for _, en := range entries {
		expired := e.cache.maxAge > 0 && now.Sub(en.last) > e.cache.maxAge
		over := e.cache.maxBytes > 0 && total > e.cache.maxBytes
		if !expired && !over {
			break // the rest are newer and there is room
		}
		if e.inUseLocked(en.hash, now) {
			continue
		}
		if err := os.Remove(en.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("media: speech cache: %w", err)
		}
		delete(e.cache.used, en.hash)
		total -= en.size
		removed++
	}
	return removed, nil
}
