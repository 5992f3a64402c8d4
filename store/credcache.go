package store

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dialerd/dialerd/dialer"
)

// Every API request authenticated itself by reading its user and grants,
// or its API key: 10-15 % of dialerd's CPU under dashboard load. The store
// remembers those reads between requests in fenced caches. An entry is
// valid while nothing was written through the store's writer since it was
// read: any commit of the writer's connections (cachedConn.committed)
// moves writeFence, whatever it wrote, so no write path can forget to end
// what was remembered. The engine's own writer is not watched: it writes
// calls, never users, keys or grants. A process other than dialerd that
// writes the database is not seen; dialerd is the only writer of its store.
type writeFence struct{ n atomic.Uint64 }

// committed is the writer's report that a write is visible.
func (f *writeFence) committed() { f.n.Add(1) }

// fencedCache remembers values read at a fence position.
type fencedCache[K comparable, V any] struct {
	fence *writeFence
	clone func(V) V // a copy the caller may keep
	mu    sync.Mutex
	m     map[K]fencedEntry[V]
}

type fencedEntry[V any] struct {
	v  V
	at uint64
}

// fencedCacheMax bounds what one cache remembers; beyond it it restarts.
const fencedCacheMax = 4096

func newFencedCache[K comparable, V any](f *writeFence, clone func(V) V) *fencedCache[K, V] {
	return &fencedCache[K, V]{fence: f, clone: clone, m: make(map[K]fencedEntry[V])}
}

// get is k's value if it was read since the last write.
func (c *fencedCache[K, V]) get(k K) (V, bool) {
	at := c.fence.n.Load()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || e.at != at {
		var zero V
		return zero, false
	}
	return c.clone(e.v), true
}

// read is k's remembered value, or read's, remembered at the fence as it
// was before the read: a write that committed meanwhile has moved the
// fence past it, so the entry is never taken for newer than it is.
func (c *fencedCache[K, V]) read(k K, read func() (V, error)) (V, error) {
	if v, ok := c.get(k); ok {
		return v, nil
	}
	at := c.fence.n.Load()
	v, err := read()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= fencedCacheMax {
		clear(c.m)
	}
	c.m[k] = fencedEntry[V]{v: c.clone(v), at: at}
	return v, nil
}

func cloneCredentials(c dialer.Credentials) dialer.Credentials {
	c.User.Roles, c.User.Permissions = slices.Clone(c.User.Roles), slices.Clone(c.User.Permissions)
	return c
}

// storedKey is an API key with its hash as stored.
type storedKey struct {
	key  dialer.APIKey
	hash string
}
