package eslgo_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/esl/internal/eslgo"
)

type raw string

func (r raw) BuildMessage() string { return string(r) }

func dial(t *testing.T, s *esltest.Server) (*eslgo.Conn, chan struct{}) {
	t.Helper()
	gone := make(chan struct{})
	opts := eslgo.DefaultInboundOptions
	opts.Logger = eslgo.NilLogger{}
	opts.OnDisconnect = func() { close(gone) }
	c, err := opts.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return c, gone
}

// TestEarlyDropIsReported: a connection dropped right after it is made is
// reported (upstream lost the notice when its disconnect loop was not yet
// waiting) without a data race between the auth and disconnect loops and
// close (run with -race).
func TestEarlyDropIsReported(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	for range 50 {
		_, gone := dial(t, s)
		s.DropConnections()
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("disconnect not reported")
		}
	}
}

// TestCommandEndsWithConnection: a command waiting for its reply returns
// as soon as the connection drops, not at its deadline.
func TestCommandEndsWithConnection(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.StallConnection())
	c, gone := dial(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.SendCommand(ctx, raw("bgapi originate {origination_uuid=0f1e2d3c-4b5a-4697-8877-665544332211}sofia/gateway/gw/15551230001 &park()"))
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Originates()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.DropConnections()
	select {
	case err := <-errc:
		if err == nil || ctx.Err() != nil {
			t.Fatalf("command returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command outlived its connection")
	}
	<-gone
}

// TestCloseIsRaceFree: the caller may close (run with -race). OnDisconnect
// is not promised then: the caller knows.
func TestCloseIsRaceFree(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	for range 20 {
		c, _ := dial(t, s)
		c.Close()
		if _, err := c.SendCommand(context.Background(), raw("api status")); err == nil {
			t.Fatal("a command went through a closed connection")
		}
	}
}
