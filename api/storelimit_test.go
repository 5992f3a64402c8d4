package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// limitedRouter serves every method on /x through a storeLimit; the
// handler counts the requests in it at once and blocks until release.
func limitedRouter(l *storeLimit, release <-chan struct{}, inReads, inWrites, maxReads, maxWrites *atomic.Int64) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(l.handler())
	h := func(c *gin.Context) {
		in, top := inWrites, maxWrites
		if c.Request.Method == http.MethodGet {
			in, top = inReads, maxReads
		}
		n := in.Add(1)
		for {
			m := top.Load()
			if n <= m || top.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		in.Add(-1)
		c.Status(http.StatusNoContent)
	}
	e.GET("/x", h)
	e.POST("/x", h)
	e.PUT("/x", h)
	e.POST("/x/send", func(c *gin.Context) { c.Status(http.StatusAccepted) })
	return e
}

// Without the limit, N API requests take N store connections and the
// engine queues behind them; with it, at most the limit are in at once,
// reads and writes counted apart, and the rest wait their turn. While the
// engine is late with its calls, one request is in at a time.
func TestStoreLimitBoundsConcurrency(t *testing.T) {
	tests := []struct {
		name          string
		reads, writes int
		gets, posts   int
		late          time.Duration // the engine's Behind
	}{
		{"reads over the limit", 3, 1, 10, 0, 0},
		{"writes over the limit", 3, 1, 0, 6, 0},
		{"both", 2, 2, 8, 8, 0},
		{"both, the engine a little late", 2, 2, 8, 8, engineFirstLag},
		{"reads, the engine behind", 3, 1, 10, 0, engineFirstLag + time.Millisecond},
		{"both, the engine behind", 2, 2, 8, 8, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var inR, inW, maxR, maxW atomic.Int64
			r := limitedRouter(newStoreLimit(tt.reads, tt.writes, 5*time.Second, func() time.Duration { return tt.late }), release, &inR, &inW, &maxR, &maxW)
			if tt.late > engineFirstLag {
				tt.reads, tt.writes = 1, 1 // and one of either: checked below
			}
			var wg sync.WaitGroup
			codes := make(chan int, tt.gets+tt.posts)
			send := func(method string) {
				wg.Go(func() {
					w := httptest.NewRecorder()
					r.ServeHTTP(w, httptest.NewRequest(method, "/x", nil))
					codes <- w.Code
				})
			}
			for range tt.gets {
				send(http.MethodGet)
			}
			for range tt.posts {
				send(http.MethodPost)
			}
			// Let every request arrive, then check the counts while they
			// are held.
			deadline := time.Now().Add(5 * time.Second)
			for !arrived(tt.late, &inR, &inW, min(tt.gets, tt.reads), min(tt.posts, tt.writes)) {
				if time.Now().After(deadline) {
					t.Fatalf("requests never got in: reads %d, writes %d", inR.Load(), inW.Load())
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			if inR.Load() > int64(tt.reads) || inW.Load() > int64(tt.writes) {
				t.Errorf("in at once: %d reads, %d writes; limits %d, %d", inR.Load(), inW.Load(), tt.reads, tt.writes)
			}
			if in := inR.Load() + inW.Load(); tt.late > engineFirstLag && in != 1 {
				t.Errorf("%d requests in at once while the engine is %v behind, want 1", in, tt.late)
			}
			close(release)
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != http.StatusNoContent {
					t.Errorf("a request answered %d", c)
				}
			}
			if maxR.Load() > int64(tt.reads) || maxW.Load() > int64(tt.writes) {
				t.Errorf("most at once: %d reads, %d writes; limits %d, %d", maxR.Load(), maxW.Load(), tt.reads, tt.writes)
			}
		})
	}
}

// A request that waits too long is told to retry; one whose client left
// is dropped without running.
func TestStoreLimitWaits(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var inR, inW, maxR, maxW atomic.Int64
	r := limitedRouter(newStoreLimit(1, 1, 50*time.Millisecond, nil, "/x/send"), release, &inR, &inW, &maxR, &maxW)
	go r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	for inR.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("waited past the limit: %d, Retry-After %q; want 503, 1", w.Code, w.Header().Get("Retry-After"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(ctx))
	if inR.Load() != 1 {
		t.Errorf("%d requests in the handler, want only the first", inR.Load())
	}
	// A write is not held up by the reads, and a route waiting on the
	// engine is not counted at all.
	go r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", nil))
	deadline := time.Now().Add(time.Second)
	for inW.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if inW.Load() != 1 || inR.Load() != 1 {
		t.Errorf("%d writes and %d reads in, want one of each", inW.Load(), inR.Load())
	}
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/x/send", nil))
	if w.Code != http.StatusAccepted {
		t.Errorf("an exempt route answered %d behind a held write", w.Code)
	}
}

// arrived reports whether the requests that may be in at once are: with
// the engine behind, any one of them.
func arrived(late time.Duration, inR, inW *atomic.Int64, reads, writes int) bool {
	if late > engineFirstLag {
		return inR.Load()+inW.Load() >= 1
	}
	return inR.Load() >= int64(reads) && inW.Load() >= int64(writes)
}
