package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Default bounds of the requests that use the store at once. The store has
// eight reader connections and one writer (store.Open); the API may hold
// at most five readers and queue at most two write transactions, so the
// spool engine's reads (providers, routes, media, a campaign's work) find a
// free reader and its write-ahead commit waits for at most two API
// transactions — never for a queue of hundreds of API requests, which is
// how API load used to stall the engine's loop and delay its INVITEs.
const (
	DefaultStoreReads  = 5
	DefaultStoreWrites = 2
	// storeWait is how long a request waits for its turn before 503.
	storeWait = 10 * time.Second
	// engineFirstLag is how late the spool engine may be with the calls it
	// owes before the API yields to it (storeLimit.behind): five intervals
	// at 6000 CPM, well within what its pacer catches up (a second).
	engineFirstLag = 50 * time.Millisecond
)

// storeLimit admits a bounded number of requests to the store at once:
// reads (GET, HEAD) and writes (everything else) separately. A request
// waits for its turn, in arrival order, while its client is there.
type storeLimit struct {
	reads, writes chan struct{}
	wait          time.Duration
	// behind is how late the spool engine is (dialer.Engine.Behind); nil:
	// no engine. While it is later than engineFirstLag every request also
	// takes lean, the one slot of the engine-first mode.
	behind func() time.Duration
	lean   chan struct{}
	// exempt are routes that wait on the engine, not the store (POST
	// /transmissions/{id}/send waits up to engine.send_wait for capacity):
	// holding a slot there would block every other write meanwhile.
	exempt map[string]bool
}

// engineLag is the spool engine's lateness (dialer.Engine.Behind).
type engineLag interface{ Behind() time.Duration }

func newStoreLimit(reads, writes int, wait time.Duration, behind func() time.Duration, exempt ...string) *storeLimit {
	l := &storeLimit{reads: make(chan struct{}, reads), writes: make(chan struct{}, writes), wait: wait,
		behind: behind, lean: make(chan struct{}, 1), exempt: map[string]bool{}}
	for _, r := range exempt {
		l.exempt[r] = true
	}
	return l
}

func (l *storeLimit) handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		if l.exempt[c.FullPath()] {
			c.Next()
			return
		}
		slots := l.writes
		if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
			slots = l.reads
		}
		if !l.take(c, slots) {
			return
		}
		defer func() { <-slots }()
		if l.behind != nil && l.behind() > engineFirstLag {
			// Engine first: while the engine is late with the calls it
			// owes, the API serves one request at a time, so that the
			// CPU goes to dialing. Requests already admitted finish.
			if !l.take(c, l.lean) {
				return
			}
			defer func() { <-l.lean }()
		}
		c.Next()
	}
}

// take waits for a slot of slots, answering 503 (or nothing, when the
// client has gone) if none frees within the wait.
func (l *storeLimit) take(c *gin.Context, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-c.Request.Context().Done():
		c.Abort() // the client has gone: nobody to answer
		return false
	case <-t.C:
		c.Header("Retry-After", "1")
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, ictcoreError{Error: ictcoreErrorBody{
			Code: http.StatusServiceUnavailable, Message: "too many requests in progress; retry"}})
		return false
	}
}
