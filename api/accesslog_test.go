package api

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gorilla/websocket"
)

// lockedBuffer is a log sink the server's goroutines and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLogWebsocketStatus: the access log line of GET /ws says 101,
// the status the client got, not gin's untouched 200 of a hijacked writer.
func TestAccessLogWebsocketStatus(t *testing.T) {
	e := newEnv(t)
	logs := new(lockedBuffer)
	deps := e.srv.deps
	deps.Events = dialer.NewBus()
	srv, err := New(e.srv.cfg, slog.New(slog.NewTextHandler(logs, nil)), deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	srv.Start(t.Context())
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?token="+e.admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // the handler returns, and logs, when the connection ends
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "path=/ws") {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for /ws:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "path=/ws") && !strings.Contains(line, "status=101") {
			t.Errorf("access log of /ws: %s", line)
		}
	}
}
