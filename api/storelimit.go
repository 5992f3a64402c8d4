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
)

// storeLimit admits a bounded number of requests to the store at once:
// reads (GET, HEAD) and writes (everything else) separately. A request
// waits for its turn, in arrival order, while its client is there.
type storeLimit struct {
	reads, writes chan struct{}
	wait          time.Duration
	// exempt are routes that wait on the engine, not the store (POST
	// /transmissions/{id}/send waits up to engine.send_wait for capacity):
	// holding a slot there would block every other write meanwhile.
	exempt map[string]bool
}

func newStoreLimit(reads, writes int, wait time.Duration, exempt ...string) *storeLimit {
	l := &storeLimit{reads: make(chan struct{}, reads), writes: make(chan struct{}, writes), wait: wait, exempt: map[string]bool{}}
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
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(l.wait)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-c.Request.Context().Done():
				t.Stop()
				c.Abort() // the client has gone: nobody to answer
				return
			case <-t.C:
				c.Header("Retry-After", "1")
				c.AbortWithStatusJSON(http.StatusServiceUnavailable, ictcoreError{Error: ictcoreErrorBody{
					Code: http.StatusServiceUnavailable, Message: "too many requests in progress; retry"}})
				return
			}
		}
		defer func() { <-slots }()
		c.Next()
	}
}
