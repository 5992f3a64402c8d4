package store

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dialerd/dialerd/dialer"
)

// credCache keeps users' credentials between requests: every API request
// read them (a user row and its grants), 10-15 % of dialerd's CPU under
// dashboard load. An entry is valid while nothing was written through the
// store's writer since it was read: any commit of the writer's connection
// (cachedConn.committed) bumps gen, whatever it wrote, so no write path
// can forget to. The engine's own writer is not watched: it writes calls,
// never users, keys or grants. A process that writes the database other
// than dialerd is not seen; dialerd is the only writer of its store.
type credCache struct {
	gen atomic.Uint64
	mu  sync.Mutex
	m   map[int64]credEntry
}

type credEntry struct {
	cred dialer.Credentials
	gen  uint64
}

// credCacheMax bounds the users remembered; beyond it the cache restarts.
const credCacheMax = 4096

// committed is the writer's report that a write is visible.
func (c *credCache) committed() { c.gen.Add(1) }

// get is id's credentials if read since the last write.
func (c *credCache) get(id int64) (dialer.Credentials, bool) {
	g := c.gen.Load()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || e.gen != g {
		return dialer.Credentials{}, false
	}
	return cloneCredentials(e.cred), true
}

// put remembers cred as read after gen was g (loaded before the read: a
// write that committed meanwhile has bumped it past g, so the entry is
// never taken for newer than it is).
func (c *credCache) put(id int64, cred dialer.Credentials, g uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= credCacheMax {
		c.m = make(map[int64]credEntry)
	}
	c.m[id] = credEntry{cred: cloneCredentials(cred), gen: g}
}

func cloneCredentials(c dialer.Credentials) dialer.Credentials {
	c.User.Roles, c.User.Permissions = slices.Clone(c.User.Roles), slices.Clone(c.User.Permissions)
	return c
}
