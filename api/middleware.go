package api

import (
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

const (
	ctxRequestID  = "dialerd.request_id"
	ctxActor      = "dialerd.actor"
	ctxRetryAfter = "dialerd.retry_after"
	ctxRawBody    = "dialerd.raw_body"
	// ctxStatus is the status a handler answered outside gin's writer:
	// a websocket upgrade hijacks the connection after its 101.
	ctxStatus   = "dialerd.status"
	headerReqID = "X-Request-Id"
)

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// withRequestID keeps a sane client-sent X-Request-Id or makes one, and
// echoes it, so a client's report can be matched to the log.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerReqID)
		if !saneRequestID(id) {
			id = rand.Text()[:20]
		}
		c.Set(ctxRequestID, id)
		c.Header(headerReqID, id)
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// accessLog writes one structured line per request.
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		if st, ok := c.Get(ctxStatus); ok {
			status = st.(int)
		}
		attrs := []any{
			"request_id", requestID(c),
			"method", c.Request.Method,
			"path", c.Request.URL.Path,
			"route", c.FullPath(),
			"status", status,
			"bytes", c.Writer.Size(),
			"duration", time.Since(start),
			"remote", c.ClientIP(),
		}
		if a, ok := c.Get(ctxActor); ok {
			attrs = append(attrs, "user_id", a.(dialer.Actor).UserID)
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(c.Request.Context(), level, "http", attrs...)
	}
}

// recoverJSON turns a handler panic into a logged JSON 500 instead of a
// dropped connection. http.ErrAbortHandler is re-raised, as net/http expects.
func (s *Server) recoverJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			s.log.Error("panic in handler", "request_id", requestID(c), "panic", rec, "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			s.fail(c, dialer.Internal(errors.New("panic")))
		}()
		c.Next()
	}
}

// limitBody caps every request body; a larger one fails to read, and the
// handler answers it as a bad request. Routes that take uploads raise it
// with raiseBodyLimit, which needs the body as it came: it is kept.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Set(ctxRawBody, c.Request.Body)
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// raiseBodyLimit replaces the global cap on the request body with n, for
// the routes that take uploads. (Wrapping the capped body again could only
// lower the cap.)
func raiseBodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if raw, ok := c.Get(ctxRawBody); ok {
			c.Request.Body = http.MaxBytesReader(c.Writer, raw.(io.ReadCloser), n)
		}
		c.Next()
	}
}

// requireReady answers 423, as the ICTCore document says, while the system
// is starting or draining.
func (s *Server) requireReady() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.ready.Load() {
			s.fail(c, dialer.NotReady("dialerd is not ready; try again shortly"))
			return
		}
		c.Next()
	}
}
