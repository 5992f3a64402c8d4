package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// testConn dials s with the test options; onEvent may be nil.
func testConn(t testing.TB, s *esltest.Server, onEvent func(frame)) *conn {
	t.Helper()
	if onEvent == nil {
		onEvent = func(frame) {}
	}
	opts := testOptions()
	c, err := dialConn(context.Background(), s.Addr(), "ClueCon", &opts, testLog(), onEvent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close(opts.CloseTimeout) })
	return c
}

// countingClient dials s directly and counts the ends it reports.
func countingClient(t testing.TB, addr string, onEvent func(frame)) (*client, *atomic.Int32, error) {
	t.Helper()
	if onEvent == nil {
		onEvent = func(frame) {}
	}
	ends := new(atomic.Int32)
	c, err := dial(context.Background(), addr, clientOptions{
		password: "ClueCon", timeout: 2 * time.Second, log: testLog(),
		onEvent: onEvent, onEnd: func(error) { ends.Add(1) },
	})
	return c, ends, err
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitFor):
		t.Fatalf("%s: not within %s", what, waitFor)
	}
}

// scriptedPeer listens on loopback and runs serve on each connection.
func scriptedPeer(t testing.TB, serve func(net.Conn, *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				serve(nc, bufio.NewReader(nc))
			})
		}
	})
	return ln.Addr().String()
}

const (
	greeting = "Content-Type: auth/request\n\n"
	accepted = "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
)

// TestDropDuringAuth cuts the handshake at every byte, before and after
// the client's "auth": each dial fails promptly, and leaves nothing
// running.
func TestDropDuringAuth(t *testing.T) {
	var cut atomic.Int64 // bytes of the handshake the peer sends, then closes
	addr := scriptedPeer(t, func(nc net.Conn, br *bufio.Reader) {
		n := int(cut.Load())
		if n <= len(greeting) {
			nc.Write([]byte(greeting[:n]))
			return
		}
		nc.Write([]byte(greeting))
		if line, err := br.ReadString('\n'); err != nil || line != "auth ClueCon\n" {
			return
		}
		nc.Write([]byte(accepted[:n-len(greeting)]))
	})
	before := runtime.NumGoroutine()
	for n := 0; n < len(greeting)+len(accepted); n++ {
		cut.Store(int64(n))
		start := time.Now()
		c, _, err := countingClient(t, addr, nil)
		if err == nil {
			c.close(time.Second)
			t.Fatalf("cut at %d: dial succeeded", n)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("cut at %d: failed after %s", n, d)
		}
	}
	if after := settledGoroutines(before); after > before {
		t.Errorf("goroutines %d before, %d after", before, after)
	}
	// The whole handshake is a success.
	cut.Store(int64(len(greeting) + len(accepted)))
	c, _, err := countingClient(t, addr, nil)
	if err != nil {
		t.Fatalf("full handshake: %v", err)
	}
	c.close(100 * time.Millisecond)
}

// TestDialBounded: a peer that accepts and says nothing, a refused
// password and a cancelled context all end the dial within its bounds.
func TestDialBounded(t *testing.T) {
	silent := scriptedPeer(t, func(nc net.Conn, br *bufio.Reader) { br.ReadString(0) })
	refuse := scriptedPeer(t, func(nc net.Conn, br *bufio.Reader) {
		nc.Write([]byte(greeting))
		br.ReadString('\n')
		nc.Write([]byte("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"))
		br.ReadString(0)
	})
	opts := func(timeout time.Duration) clientOptions {
		return clientOptions{password: "ClueCon", timeout: timeout, log: testLog(), onEvent: func(frame) {}, onEnd: func(error) {}}
	}
	start := time.Now()
	if _, err := dial(context.Background(), silent, opts(100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent peer: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("silent peer: %s", d)
	}
	if _, err := dial(context.Background(), refuse, opts(time.Second)); err == nil || !strings.Contains(err.Error(), "-ERR invalid") {
		t.Errorf("refused: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	if _, err := dial(ctx, silent, opts(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled: %s", d)
	}
	if _, err := dial(context.Background(), silent, clientOptions{password: "a\nb", timeout: time.Second}); err == nil {
		t.Error("a password with a line break was sent")
	}
}

// TestDropDuringAuthFake drops the fake's connections while clients are
// dialling it: each dial either fails or reports its end once (-race).
func TestDropDuringAuthFake(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(len(s.Commands())%3) * 100 * time.Microsecond):
				s.DropConnections()
			}
		}
	})
	failed, ended := 0, 0
	for range 100 {
		c, ends, err := countingClient(t, s.Addr(), nil)
		if err != nil {
			failed++
			continue
		}
		waitClosed(t, c.done, "end after a drop")
		if n := ends.Load(); n != 1 {
			t.Fatalf("end reported %d times", n)
		}
		ended++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d dials failed, %d connections ended", failed, ended)
}

// TestEarlyDropIsReported: a connection dropped right after it is made
// reports its end, once (eslgo v1.5.2 lost the notice, and raced).
func TestEarlyDropIsReported(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	for range 50 {
		c, ends, err := countingClient(t, s.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s.DropConnections()
		waitClosed(t, c.done, "end after a drop")
		c.close(time.Second) // closing an ended connection is harmless
		if n := ends.Load(); n != 1 {
			t.Fatalf("end reported %d times", n)
		}
		if _, err := c.send(context.Background(), "api status"); !errors.Is(err, errConnGone) {
			t.Fatalf("command on an ended connection: %v", err)
		}
	}
}

func originateCmd(number string) string {
	return "originate {origination_uuid=" + newUUID() + "}sofia/gateway/gw/" + number + " &park()"
}

// TestCommandEndsWithConnection: a command waiting for its reply returns
// as soon as the connection drops, not at its deadline, and says it was
// sent.
func TestCommandEndsWithConnection(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.StallConnection())
	c := testConn(t, s, nil)
	c.timeout = time.Minute
	errc := make(chan error, 1)
	go func() {
		_, err := c.bgapi(context.Background(), originateCmd("15551230001"), newUUID())
		errc <- err
	}()
	deadline := time.Now().Add(waitFor)
	for len(s.Originates()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.DropConnections()
	select {
	case err := <-errc:
		var se *sendError
		if !errors.As(err, &se) || se.unsent {
			t.Fatalf("command returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command outlived its connection")
	}
	waitClosed(t, c.gone, "gone")
}

// TestStalledCommandEndsConnection: no reply within the command timeout
// ends the connection; the command reports it was sent.
func TestStalledCommandEndsConnection(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.StallConnection())
	c := testConn(t, s, nil)
	c.timeout = 100 * time.Millisecond
	_, err := c.bgapi(context.Background(), originateCmd("15551230001"), newUUID())
	var se *sendError
	if !errors.As(err, &se) || se.unsent || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled command: %v", err)
	}
	waitClosed(t, c.gone, "gone after a stalled command")
}

// TestCloseIsRaceFree closes connections from several goroutines at once,
// with commands in flight (-race): "exit" goes out once per connection,
// every close returns after the end, and later commands find it gone.
func TestCloseIsRaceFree(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	for range 20 {
		c := testConn(t, s, nil)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { _, _ = c.api(context.Background(), "status") })
			wg.Go(func() {
				c.close(time.Second)
				if !c.isGone() {
					t.Error("close returned before the end")
				}
			})
		}
		wg.Wait()
		if _, err := c.api(context.Background(), "status"); !errors.Is(err, errConnGone) {
			t.Fatalf("a command after close: %v", err)
		}
	}
	exits := map[int]int{}
	for _, cmd := range s.Commands() {
		if cmd.Name == "exit" {
			exits[cmd.Conn]++
		}
	}
	if len(exits) != 20 {
		t.Errorf("exit sent on %d of 20 connections", len(exits))
	}
	for id, n := range exits {
		if n != 1 {
			t.Errorf("connection %d: exit sent %d times", id, n)
		}
	}
}

// TestCloseWithoutGoodbye: a peer that never answers "exit" is closed by
// the client after the timeout.
func TestCloseWithoutGoodbye(t *testing.T) {
	addr := scriptedPeer(t, func(nc net.Conn, br *bufio.Reader) {
		nc.Write([]byte(greeting))
		br.ReadString('\n')
		br.ReadString('\n')
		nc.Write([]byte(accepted))
		br.ReadString(0) // reads "exit" and says nothing
	})
	c, ends, err := countingClient(t, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.close(100 * time.Millisecond)
	if d := time.Since(start); d < 100*time.Millisecond || d > time.Second {
		t.Errorf("close took %s", d)
	}
	if ends.Load() != 1 {
		t.Errorf("end reported %d times", ends.Load())
	}
}

// TestConcurrentCommands: 800 commands at once on one connection each
// get their own reply, and every BACKGROUND_JOB arrives.
func TestConcurrentCommands(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	var mu sync.Mutex
	jobs := map[string]bool{}
	c := testConn(t, s, func(ev frame) {
		if ev.get("Event-Name") == evBackgroundJob {
			mu.Lock()
			jobs[ev.get("Job-UUID")] = true
			mu.Unlock()
		}
	})
	const n = 800
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				job := newUUID()
				reply, err := c.bgapi(context.Background(), "status", job)
				if err != nil || reply != "+OK Job-UUID: "+job {
					t.Errorf("bgapi %s: %q, %v", job, reply, err)
				}
				return
			}
			// uuid_exists of a live channel is "true", of anything else
			// "false": replies that changed places would show.
			out, err := c.api(context.Background(), "uuid_exists "+newUUID())
			if err != nil || out != "false" {
				t.Errorf("api: %q, %v", out, err)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(waitFor)
	for {
		mu.Lock()
		got := len(jobs)
		mu.Unlock()
		if got == n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d BACKGROUND_JOBs", got, n/2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.isGone() {
		t.Error("the connection ended")
	}
}

// TestAbandonedReplyGoesNowhere: a command whose caller gives up keeps
// its place, so its late reply is not taken by the next command, and the
// connection stays up.
func TestAbandonedReplyGoesNowhere(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.Answer(300*time.Millisecond, 10*time.Millisecond))
	c := testConn(t, s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	// The fake answers a synchronous originate when the call is answered.
	if _, err := c.api(ctx, originateCmd("15551230001")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned command: %v", err)
	}
	job := newUUID()
	reply, err := c.bgapi(context.Background(), "status", job)
	if err != nil || reply != "+OK Job-UUID: "+job {
		t.Fatalf("the next command got %q, %v", reply, err)
	}
	if out, err := c.api(context.Background(), "uuid_exists "+newUUID()); err != nil || out != "false" {
		t.Fatalf("and the one after %q, %v", out, err)
	}
	if c.isGone() {
		t.Error("giving up on a command ended the connection")
	}
}

// TestEventsInArrivalOrder: events come in the order FreeSWITCH sent
// them (Event-Sequence rising), one at a time, and the end comes after
// the last of them.
func TestEventsInArrivalOrder(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, time.Millisecond)})
	var (
		inside  atomic.Int32
		mu      sync.Mutex
		seqs    []uint64
		overlap bool
	)
	c, ends, err := countingClient(t, s.Addr(), func(ev frame) {
		if inside.Add(1) != 1 {
			overlap = true
		}
		e := parseEvent(&ev, time.Now())
		mu.Lock()
		seqs = append(seqs, e.seq)
		mu.Unlock()
		inside.Add(-1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.send(context.Background(), "event plain "+strings.Join(subscribedEvents, " ")); err != nil {
		t.Fatal(err)
	}
	const calls = 50
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if _, err := c.send(context.Background(), "bgapi "+originateCmd(fmt.Sprint(15551230000+i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(waitFor)
	for {
		mu.Lock()
		n := len(seqs)
		mu.Unlock()
		if n >= calls*6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.close(time.Second)
	if ends.Load() != 1 {
		t.Errorf("end reported %d times", ends.Load())
	}
	if overlap {
		t.Error("events delivered concurrently")
	}
	if len(seqs) < calls*6 {
		t.Fatalf("%d events, want %d", len(seqs), calls*6)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("event %d: sequence %d after %d", i, seqs[i], seqs[i-1])
		}
	}
}

// TestRefusesInjection: a command cannot smuggle a second one.
func TestRefusesInjection(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	c := testConn(t, s, nil)
	for _, cmd := range []string{"", "api status\n\napi version", "api status\n", "api status\r\nX: y"} {
		if _, err := c.cl.send(context.Background(), cmd); !errors.Is(err, errBadCommand) {
			t.Errorf("%q: %v", cmd, err)
		}
	}
	if out, err := c.api(context.Background(), "version"); err != nil || !strings.HasPrefix(out, "FreeSWITCH Version") {
		t.Errorf("version %q, %v", out, err)
	}
}

// TestWriteFailureIsUnsent: a command whose write fails says it was not
// sent (or finds the connection gone), and the end is reported once.
func TestWriteFailureIsUnsent(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	for range 20 {
		c, ends, err := countingClient(t, s.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.nc.Close() // the socket fails under the client
		_, err = c.send(context.Background(), "api status")
		var se *sendError
		if !errors.Is(err, errConnGone) && (!errors.As(err, &se) || !se.unsent) {
			t.Fatalf("command on a failed socket: %v", err)
		}
		waitClosed(t, c.done, "end after a socket failure")
		if n := ends.Load(); n != 1 {
			t.Fatalf("end reported %d times", n)
		}
	}
}
