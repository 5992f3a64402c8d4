package esltest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// ioTimeout bounds every read and write in these tests: long enough for a
// loaded shared machine, short enough to fail fast on a hang.
const ioTimeout = 10 * time.Second

// client is a raw Event Socket client for tests.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// dial connects and consumes the auth/request.
func dial(t testing.TB, s *esltest.Server) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	if f := c.read(); f.ContentType() != "auth/request" {
		t.Fatalf("first frame: got %q, want auth/request", f.ContentType())
	}
	return c
}

// login authenticates and subscribes to events (if any are given).
func login(t testing.TB, s *esltest.Server, events ...string) *client {
	t.Helper()
	c := dial(t, s)
	c.expectReply("auth ClueCon", "+OK accepted")
	if len(events) > 0 {
		c.expectReply("event plain "+strings.Join(events, " "), "+OK event listener enabled plain")
	}
	return c
}

// send writes a command, adding the blank line that ends it.
func (c *client) send(cmd string) {
	c.t.Helper()
	if !strings.HasSuffix(cmd, "\n\n") {
		cmd += "\n\n"
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(ioTimeout)); err != nil {
		c.t.Fatalf("deadline: %v", err)
	}
	if _, err := io.WriteString(c.nc, cmd); err != nil {
		c.t.Fatalf("send %q: %v", cmd, err)
	}
}

func (c *client) readWithin(d time.Duration) (esltest.Frame, error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return esltest.Frame{}, err
	}
	return esltest.ReadFrame(c.br)
}

func (c *client) read() esltest.Frame {
	c.t.Helper()
	f, err := c.readWithin(ioTimeout)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// expectReply sends cmd and checks the command/reply's Reply-Text. Events
// queued before the reply are skipped.
func (c *client) expectReply(cmd, want string) esltest.Frame {
	c.t.Helper()
	c.send(cmd)
	f := c.read()
	for strings.HasPrefix(f.ContentType(), "text/event-") {
		f = c.read()
	}
	if f.ContentType() != "command/reply" || f.Get("Reply-Text") != want {
		c.t.Fatalf("%q: got %q %q, want command/reply %q", cmd, f.ContentType(), f.Get("Reply-Text"), want)
	}
	return f
}

// api runs an api command and returns the body of its api/response. Events
// that arrive first are skipped.
func (c *client) api(cmd string) string {
	c.t.Helper()
	c.send("api " + cmd)
	for {
		f := c.read()
		if f.ContentType() == "api/response" {
			return string(f.Body)
		}
		if !strings.HasPrefix(f.ContentType(), "text/event-") {
			c.t.Fatalf("api %q: unexpected %q frame", cmd, f.ContentType())
		}
	}
}

// event reads frames until an event matching want arrives.
func (c *client) event(want func(esltest.Event) bool) esltest.Event {
	c.t.Helper()
	for {
		f := c.read()
		if f.ContentType() != "text/event-plain" {
			c.t.Fatalf("want an event, got %q frame", f.ContentType())
		}
		ev, err := esltest.ParseEventPlain(f.Body)
		if err != nil {
			c.t.Fatalf("parse event: %v", err)
		}
		if want(ev) {
			return ev
		}
	}
}

// eventsUntil collects the events of one channel until (and including) the
// event named last, and the BACKGROUND_JOB of job if both are wanted.
func (c *client) callEvents(uuid, jobUUID string) []esltest.Event {
	c.t.Helper()
	var evs []esltest.Event
	sawComplete, sawJob := false, jobUUID == ""
	for !sawComplete || !sawJob {
		ev := c.event(func(ev esltest.Event) bool {
			return ev.Get("Unique-ID") == uuid || (jobUUID != "" && ev.Get("Job-UUID") == jobUUID)
		})
		evs = append(evs, ev)
		sawComplete = sawComplete || ev.Name() == "CHANNEL_HANGUP_COMPLETE"
		sawJob = sawJob || ev.Name() == "BACKGROUND_JOB"
	}
	return evs
}

func names(evs []esltest.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Name()
	}
	return out
}

// expectClosed checks that the server closes the connection: EOF, or a
// reset when it closed with unread input.
func (c *client) expectClosed() {
	c.t.Helper()
	f, err := c.readWithin(ioTimeout)
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("want the connection closed, got frame %q, err %v", f.ContentType(), err)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("want EOF or a reset, got %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
