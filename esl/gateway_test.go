package esl

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
)

// The engine finds these through its Gateway by type assertion.
var (
	_ dialer.Gateway        = (*Gateway)(nil)
	_ dialer.Placer         = (*Gateway)(nil)
	_ dialer.AttemptChecker = (*Gateway)(nil)
	_ dialer.Recoverer      = (*Gateway)(nil)
)

// waitFor is how long a test waits for something that should happen
// promptly; it bounds failures, it measures nothing.
const waitFor = 10 * time.Second

const (
	testTenant = "TENANTTENANTTENANTTENA"
	testNumber = "4930123456" // what the gateway dials for +4930123456
)

// testOptions are short enough for tests to end quickly.
func testOptions() Options {
	return Options{
		Log:            testLog(),
		DialTimeout:    2 * time.Second,
		CommandTimeout: 2 * time.Second,
		CloseTimeout:   time.Second,
		Heartbeat:      200 * time.Millisecond,
		BackoffMin:     20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		Settle:         20 * time.Millisecond,
		Reorder:        10 * time.Millisecond,
		ReconnectGrace: 3 * time.Second,
		ChannelGrace:   2 * time.Second,
		NoResultGrace:  300 * time.Millisecond,
	}
}

func nodeFor(t testing.TB, s *esltest.Server, id string, sps, maxSessions int) dialer.FreeSwitchNode {
	t.Helper()
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return dialer.FreeSwitchNode{ID: id, TenantID: testTenant, Name: "fs-" + id, Host: host, Port: p,
		Password: "ClueCon", SessionsPerSecond: sps, MaxSessions: maxSessions}
}

// startGateway runs a gateway with one node on s and waits until it is
// connected.
func startGateway(t testing.TB, s *esltest.Server, opts Options, sps, maxSessions int) *Gateway {
	t.Helper()
	g := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := g.ApplyNode(nodeFor(t, s, "1", sps, maxSessions)); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, g, "1")
	return g
}

func waitHealthy(t testing.TB, g *Gateway, id string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err, ok := g.NodeHealth()[id]
		if ok && err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not connected: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attempt(phone string) dialer.Attempt {
	return dialer.Attempt{
		SpoolID:        7,
		CallUUID:       newUUID(),
		TenantID:       testTenant,
		Program:        dialer.ProgramVoiceMessage,
		Phone:          phone,
		CallerIDNumber: "4930999000",
		CallerIDName:   "Dialer Test",
		Provider:       dialer.Route{Name: "carrier", Node: "1"},
		RingTimeout:    5 * time.Second,
		MaxDuration:    time.Minute,
		Media:          dialer.Media{RecordingPath: testMedia.wav},
	}
}

// progressLog records progress callbacks.
type progressLog struct {
	mu  sync.Mutex
	got []string
}

func (p *progressLog) add(pr dialer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := string(pr.Kind)
	if pr.Kind == dialer.ProgressDTMF {
		s += ":" + pr.Digit
	}
	p.got = append(p.got, s)
}

func (p *progressLog) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

func deliver(t testing.TB, g *Gateway, a dialer.Attempt) (dialer.Outcome, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitFor)
	defer cancel()
	var pl progressLog
	o, err := g.Deliver(ctx, a, pl.add)
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return o, pl.list()
}

func resultData(o dialer.Outcome, typ, name string) []string {
	var out []string
	for _, r := range o.Results {
		if r.Type == typ && r.Name == name {
			out = append(out, r.Data)
		}
	}
	return out
}

func TestDeliverAnsweredWithDTMF(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(30*time.Millisecond, 1100*time.Millisecond).WithDTMF("15#", 40*time.Millisecond))
	a := attempt("+4930123456")
	o, progress := deliver(t, g, a)

	// The recording played to its end (FILE PLAYED): delivered.
	if want := []string{"ringing", "answered", "dtmf:1", "dtmf:5", "dtmf:#", "delivered"}; !slices.Equal(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}
	if o.Cause != "NORMAL_CLEARING" || o.Billsec != 1 || !o.Delivered || o.Failure != "" {
		t.Errorf("cause %q billsec %d delivered %v failure %q", o.Cause, o.Billsec, o.Delivered, o.Failure)
	}
	if o.Start.IsZero() || o.Connect.Before(o.Start) || o.End.Before(o.Connect) || o.End.Sub(o.Connect) < time.Second {
		t.Errorf("times start %v connect %v end %v", o.Start, o.Connect, o.End)
	}
	if d := resultData(o, "dtmf", "digit"); !slices.Equal(d, []string{"1", "5", "#"}) {
		t.Errorf("digits %v", d)
	}
	if c := resultData(o, "hangup", "cause"); !slices.Equal(c, []string{"NORMAL_CLEARING"}) {
		t.Errorf("cause results %v", c)
	}
	if b := resultData(o, "hangup", "billsec"); !slices.Equal(b, []string{"1"}) {
		t.Errorf("billsec results %v", b)
	}

	// What FreeSWITCH was asked: one bgapi originate, as specified.
	origs := s.Originates()
	if len(origs) != 1 {
		t.Fatalf("%d originates", len(origs))
	}
	p := origs[0]
	if p.Command != "bgapi" || p.JobUUID == "" || p.UUID != a.CallUUID || p.Destination != testNumber ||
		p.Endpoint != "sofia/gateway/carrier/"+testNumber || p.Application != "playback" ||
		p.AppArgs != a.Media.RecordingPath || p.CallerIDName != "Dialer Test" || p.CallerIDNumber != "4930999000" ||
		p.Timeout != 5*time.Second || len(p.Dropped) != 0 {
		t.Errorf("originate %+v", p)
	}
	if v, _ := p.Var("execute_on_answer"); v != "sched_hangup +60 ALLOTTED_TIMEOUT" {
		t.Errorf("execute_on_answer %q", v)
	}
	// One connection, subscribed to the explicit list, never to all or log.
	conns := map[int]bool{}
	for _, c := range s.Commands() {
		conns[c.Conn] = true
		if c.Name == "event" && c.Args != "plain "+strings.Join(subscribedEvents, " ") &&
			c.Args != "plain "+strings.Join(deliveryEvents, " ") {
			t.Errorf("subscription %q", c.Line)
		}
		if c.Name == "log" || strings.Contains(strings.ToLower(c.Args), " all") {
			t.Errorf("command %q", c.Line)
		}
	}
	if len(conns) != 1 {
		t.Errorf("%d connections, want 1", len(conns))
	}
}

func TestDeliverFailures(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	for _, tc := range []struct {
		name     string
		beh      esltest.Behaviour
		ring     time.Duration
		cause    string
		sip      int
		progress []string
	}{
		{"busy", esltest.Busy(), 0, "USER_BUSY", 486, nil},
		{"no answer", esltest.NoAnswer(0), time.Second, "NO_ANSWER", 0, []string{"ringing"}},
		{"unreachable", esltest.Unreachable(), 0, "NORMAL_TEMPORARY_FAILURE", 503, nil},
		{"rejected after ringing", esltest.Reject("CALL_REJECTED").WithRing().WithDelay(30 * time.Millisecond), 0, "CALL_REJECTED", 603, []string{"ringing"}},
		{"no route", esltest.Reject("NO_ROUTE_DESTINATION"), 0, "NO_ROUTE_DESTINATION", 604, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Script(testNumber, tc.beh)
			a := attempt("+4930123456")
			if tc.ring > 0 {
				a.RingTimeout = tc.ring
			}
			o, progress := deliver(t, g, a)
			if o.Cause != tc.cause || o.SIPCode != tc.sip || !o.Connect.IsZero() || o.Billsec != 0 {
				t.Errorf("outcome cause %q sip %d connect %v billsec %d", o.Cause, o.SIPCode, o.Connect, o.Billsec)
			}
			if !slices.Equal(progress, tc.progress) {
				t.Errorf("progress %v, want %v", progress, tc.progress)
			}
			if o.Start.IsZero() || o.End.Before(o.Start) {
				t.Errorf("start %v end %v", o.Start, o.End)
			}
			if c := resultData(o, "hangup", "cause"); !slices.Equal(c, []string{tc.cause}) {
				t.Errorf("cause results %v", c)
			}
		})
	}
}

// TestDeliverErrWithoutChannel: FreeSWITCH refuses the originate before
// any channel exists (max-sessions reached by someone else): only a -ERR
// BACKGROUND_JOB comes back.
func TestDeliverErrWithoutChannel(t *testing.T) {
	s := esltest.Start(t, esltest.Options{MaxSessions: 1})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script("4930111111", esltest.Answer(0, 0)) // stays up until hung up
	first := attempt("+4930111111")
	done := make(chan dialer.Outcome, 1)
	go func() {
		o, _ := g.Deliver(context.Background(), first, nil)
		done <- o
	}()
	waitChannels(t, s, 1)

	// No channel, so no try spent: the route's fault, at once.
	start := time.Now()
	_, err := g.Deliver(context.Background(), attempt("+4930123456"), nil)
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || fe.Cause != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("error %v, want a route fault DESTINATION_OUT_OF_ORDER", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s to give up", d)
	}
	if n := len(s.Originates()); n != 2 {
		t.Errorf("%d originates", n)
	}
	if !s.Hangup(context.Background(), first.CallUUID, "") {
		t.Fatal("first call not live")
	}
	if o := <-done; o.Cause != "NORMAL_CLEARING" {
		t.Errorf("first call %+v", o)
	}
}

func waitChannels(t testing.TB, s *esltest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for len(s.Channels()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d live channels, want %d", len(s.Channels()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freeAddr returns a loopback port nobody listens on.
func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	return "127.0.0.1", addr.Port
}

func TestNodeDownRefusesAtOnce(t *testing.T) {
	g := New(testOptions())
	t.Cleanup(func() { g.Close(context.Background()) })
	host, port := freeAddr(t)
	if err := g.ApplyNode(dialer.FreeSwitchNode{ID: "1", TenantID: testTenant, Host: host, Port: port,
		Password: "ClueCon", SessionsPerSecond: 30, MaxSessions: 10}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for g.NodeHealth()["1"] == nil || errors.Is(g.NodeHealth()["1"], errNotConnected) {
		if time.Now().After(deadline) {
			t.Fatalf("health %v", g.NodeHealth())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := g.NodeCheck("1")(context.Background()); !errors.Is(err, ErrNodeDown) {
		t.Errorf("check %v", err)
	}
	for _, node := range []string{"1", ""} {
		a := attempt("+4930123456")
		a.Provider.Node = node
		_, err := g.Deliver(context.Background(), a, nil)
		if !errors.Is(err, ErrNodeDown) || dialer.ErrorCode(err) != dialer.CodeNotReady {
			t.Errorf("node %q: deliver %v", node, err)
		}
	}
	for _, tc := range []struct {
		node, tenant string
		want         error
	}{{"2", testTenant, ErrUnknownNode}, {"1", "OTHERTENANTOTHERTENANT", ErrUnknownNode}} {
		a := attempt("+4930123456")
		a.Provider.Node, a.TenantID = tc.node, tc.tenant
		if _, err := g.Deliver(context.Background(), a, nil); !errors.Is(err, tc.want) {
			t.Errorf("node %s tenant %s: %v", tc.node, tc.tenant, err)
		}
	}
	if _, err := g.CallExists(context.Background(), "1", testUUID); !errors.Is(err, ErrNodeDown) {
		t.Errorf("call exists %v", err)
	}
}

// TestDropMidCall: the connection drops after the answer. The call goes on
// on FreeSWITCH; the gateway reconnects by itself, finds the call with
// uuid_exists and follows it to its end on the new connection.
func TestDropMidCall(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(10*time.Millisecond, 1200*time.Millisecond).WithDrop(esltest.DropAfterAnswer))
	a := attempt("+4930123456")
	o, progress := deliver(t, g, a)
	if o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || o.Billsec != 1 {
		t.Errorf("outcome %+v", o)
	}
	if !slices.Contains(progress, "answered") {
		t.Errorf("progress %v", progress)
	}
	if n := connections(s); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	var probed bool
	for _, c := range s.Commands() {
		probed = probed || (c.Conn == 2 && c.Line == "api uuid_exists "+a.CallUUID)
	}
	if !probed {
		t.Error("the call was not looked up after the reconnect")
	}
	waitHealthy(t, g, "1")
}

// TestDropCallEndsMeanwhile: the call ends while the connection is down;
// FreeSWITCH does not replay its events, so the attempt ends as
// CauseConnectionLost, still answered.
func TestDropCallEndsMeanwhile(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	opts := testOptions()
	opts.BackoffMin, opts.BackoffMax = 400*time.Millisecond, 400*time.Millisecond
	g := startGateway(t, s, opts, 30, 10)
	s.Script(testNumber, esltest.Answer(0, 50*time.Millisecond).WithDrop(esltest.DropAfterAnswer))
	// FreeSWITCH kept the call record (api_reporting_hook): the real
	// outcome, not ESL_CONNECTION_LOST.
	o, _ := deliver(t, g, attempt("+4930123456"))
	if o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || !o.Delivered {
		t.Errorf("outcome %+v", o)
	}
}

// TestDropOnCommand: the connection dies after the originate was read and
// before its reply: the gateway cannot know whether the call was placed,
// so it follows it after the reconnect, and is back before the answer.
func TestDropOnCommand(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(300*time.Millisecond, 1100*time.Millisecond).WithDrop(esltest.DropOnCommand))
	o, progress := deliver(t, g, attempt("+4930123456"))
	if o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || o.Billsec != 1 {
		t.Errorf("outcome %+v", o)
	}
	if !slices.Contains(progress, "answered") {
		t.Errorf("progress %v", progress)
	}
}

// TestDropBeforeAnswer: the answer comes while the connection is down and
// is lost; the CDR variables of HANGUP_COMPLETE supply its time.
func TestDropBeforeAnswer(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	opts := testOptions()
	// The answer (5 ms in) must fall in the gap even on a loaded machine.
	opts.BackoffMin, opts.BackoffMax = 300*time.Millisecond, 300*time.Millisecond
	g := startGateway(t, s, opts, 30, 10)
	s.Script(testNumber, esltest.Answer(5*time.Millisecond, 1100*time.Millisecond).WithDrop(esltest.DropAfterCreate))
	o, progress := deliver(t, g, attempt("+4930123456"))
	if o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || !o.Connect.After(o.Start) || o.Billsec != 1 {
		t.Errorf("outcome %+v", o)
	}
	if slices.Contains(progress, "answered") {
		t.Errorf("progress %v: the answer was sent while nobody listened", progress)
	}
}

func connections(s *esltest.Server) int {
	seen := map[int]bool{}
	for _, c := range s.Commands() {
		seen[c.Conn] = true
	}
	return len(seen)
}

// TestReconnectWithBackoff: dropped connections come back by themselves,
// each authenticated and subscribed again.
func TestReconnectWithBackoff(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	for i := 2; i <= 4; i++ {
		s.DropConnections()
		deadline := time.Now().Add(waitFor)
		for connections(s) < i || g.NodeHealth()["1"] != nil {
			if time.Now().After(deadline) {
				t.Fatalf("drop %d: %d connections, health %v", i-1, connections(s), g.NodeHealth()["1"])
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	// Each new connection authenticated and subscribed again.
	auths, subs := 0, 0
	for _, c := range s.Commands() {
		switch c.Name {
		case "auth":
			auths++
		case "event":
			subs++
		}
	}
	if auths != 4 || subs != 8 { // the channel events, then the delivery events
		t.Errorf("auth %d, event %d", auths, subs)
	}
	s.Script(testNumber, esltest.Answer(0, 10*time.Millisecond))
	if o, _ := deliver(t, g, attempt("+4930123456")); o.Cause != "NORMAL_CLEARING" {
		t.Errorf("outcome after reconnects %+v", o)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for k, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 50 {
			if d := backoff(lo, hi, k); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", k, d, want/2, want)
			}
		}
	}
}

// TestStalledOriginate: FreeSWITCH acknowledges and then says nothing.
func TestStalledOriginate(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Stall())
	a := attempt("+4930123456")
	a.RingTimeout = 200 * time.Millisecond
	// No channel ever: the route's fault, no try spent.
	_, err := g.Deliver(context.Background(), a, nil)
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || fe.Cause != CauseNoResult {
		t.Errorf("error %v", err)
	}
}

// TestMaxDuration: an answered call that outlives its maximum duration is
// hung up.
func TestMaxDuration(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(0, 0)) // never hangs up itself
	a := attempt("+4930123456")
	a.MaxDuration = 300 * time.Millisecond
	o, _ := deliver(t, g, a)
	if o.Cause != "ALLOTTED_TIMEOUT" || o.Connect.IsZero() {
		t.Errorf("outcome %+v", o)
	}
	var killed bool
	for _, c := range s.Commands() {
		killed = killed || c.Line == "api uuid_kill "+a.CallUUID+" ALLOTTED_TIMEOUT"
	}
	if !killed {
		t.Error("no uuid_kill")
	}
}

func TestCallExistsAndReattach(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	opts := testOptions()
	g1 := startGateway(t, s, opts, 30, 10)
	s.Script(testNumber, esltest.Answer(0, 0).WithDTMF("7", 600*time.Millisecond))
	a := attempt("+4930123456")

	// The first run of the daemon places the call and stops following it.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g1.Deliver(ctx, a, nil)
		done <- err
	}()
	waitChannels(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("deliver after cancel: %v", err)
	}

	// The next run finds it, and follows it to its end.
	g2 := startGateway(t, s, opts, 30, 10)
	for _, g := range []*Gateway{g1, g2} {
		if ok, err := g.CallExists(context.Background(), "1", a.CallUUID); !ok || err != nil {
			t.Errorf("exists: %v %v", ok, err)
		}
	}
	var pl progressLog
	got := make(chan dialer.Outcome, 1)
	go func() {
		o, err := g2.Reattach(context.Background(), a, pl.add)
		if err != nil {
			t.Errorf("reattach: %v", err)
		}
		got <- o
	}()
	deadline := time.Now().Add(waitFor)
	for g2.nodeLoad("1") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("reattach did not start")
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(900 * time.Millisecond) // the digit comes 600 ms after the answer
	if !s.Hangup(context.Background(), a.CallUUID, "NORMAL_CLEARING") {
		t.Fatal("call gone")
	}
	o := <-got
	if o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || o.Start.IsZero() {
		t.Errorf("outcome %+v", o)
	}
	if d := resultData(o, "dtmf", "digit"); !slices.Equal(d, []string{"7"}) || !slices.Equal(pl.list(), []string{"dtmf:7"}) {
		t.Errorf("digits %v progress %v", d, pl.list())
	}
	if ok, err := g2.CallExists(context.Background(), "1", a.CallUUID); ok || err != nil {
		t.Errorf("exists after the end: %v %v", ok, err)
	}
	if _, err := g2.Reattach(context.Background(), a, nil); !errors.Is(err, dialer.ErrCallGone) {
		t.Errorf("reattach of an ended call: %v", err)
	}
	if _, err := g2.CallExists(context.Background(), "1", "not-a-uuid}"); dialer.ErrorCode(err) != dialer.CodeInvalid {
		t.Errorf("bad uuid: %v", err)
	}
}

func (g *Gateway) nodeLoad(id string) int {
	n, err := g.node(id, "")
	if err != nil {
		return 0
	}
	return n.load()
}

// TestCapsUnderBurst: a burst of concurrent attempts never makes the node
// exceed max-sessions or sessions-per-second. FreeSWITCH lets N-1
// originates through per second with sessions-per-second N, so the bound
// asserted is N-1 in any sliding second, and FreeSWITCH refused none.
func TestCapsUnderBurst(t *testing.T) {
	const sps, maxSessions, calls = 10, 4, 24
	s := esltest.Start(t, esltest.Options{SessionsPerSecond: sps, MaxSessions: maxSessions})
	g := startGateway(t, s, testOptions(), sps, maxSessions)
	s.SetDefault(esltest.Answer(0, 250*time.Millisecond))
	if got, gotMax := g.NodeLimits("1"); got != sps-1 || gotMax != maxSessions {
		t.Errorf("limits %d %d", got, gotMax)
	}
	var wg sync.WaitGroup
	causes := make(chan string, calls)
	for i := range calls {
		wg.Go(func() {
			o, err := g.Deliver(context.Background(), attempt("+49301234"+strconv.Itoa(10+i)), nil)
			if err != nil {
				t.Errorf("deliver: %v", err)
			}
			causes <- o.Cause
		})
	}
	wg.Wait()
	close(causes)
	for c := range causes {
		if c != "NORMAL_CLEARING" {
			t.Errorf("cause %q", c)
		}
	}
	st := s.Stats()
	if st.Originates != calls || st.PeakChannels > maxSessions || st.MaxOriginatesPerSecond > sps-1 ||
		st.ThrottleRejected+st.LimitRejected != 0 {
		t.Errorf("stats %+v (max sessions %d, sps %d)", st, maxSessions, sps)
	}
	t.Logf("stats %+v", st)
}

// TestNoGoroutineGrowth: 1,000 calls leave no goroutine behind.
func TestNoGoroutineGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 calls")
	}
	s := esltest.Start(t, esltest.Options{})
	opts := testOptions()
	opts.Settle, opts.Reorder = 2*time.Millisecond, time.Millisecond
	g := startGateway(t, s, opts, 10000, 1000)
	s.SetDefault(esltest.Answer(0, time.Millisecond))
	s.Script("4930000001", esltest.Busy())
	s.Script("4930000002", esltest.Answer(0, time.Millisecond).WithDTMF("1", time.Millisecond))
	before := settledGoroutines(-1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range 1000 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := g.Deliver(context.Background(), attempt("+49300000"+strconv.Itoa(10 + i%3)[1:]+"0"+strconv.Itoa(i%3)), nil); err != nil {
				t.Errorf("deliver: %v", err)
			}
		})
	}
	wg.Wait()
	after := settledGoroutines(before)
	t.Logf("goroutines before %d, after %d; stats %+v", before, after, s.Stats())
	if after > before+2 {
		t.Errorf("goroutines grew from %d to %d", before, after)
	}
}

// settledGoroutines waits until the goroutine count stops moving (or
// reaches target) and returns it: the fake's goroutines and those of a
// closed connection finish asynchronously.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	deadline := time.Now().Add(waitFor)
	for stable := 0; stable < 20 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			stable++
		} else {
			stable = 0
		}
		n = m
		if target >= 0 && n <= target {
			return n
		}
	}
	return n
}

// TestDrainAndClose: removing a node refuses new attempts at once, lets
// the call in flight finish, then says goodbye to FreeSWITCH.
func TestDrainAndClose(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(0, 400*time.Millisecond))
	got := make(chan dialer.Outcome, 1)
	go func() {
		o, _ := g.Deliver(context.Background(), attempt("+4930123456"), nil)
		got <- o
	}()
	waitChannels(t, s, 1)
	g.RemoveNode("1")
	if _, err := g.Deliver(context.Background(), attempt("+4930123457"), nil); !errors.Is(err, ErrNodeDraining) {
		t.Errorf("deliver on a draining node: %v", err)
	}
	if _, ok := g.NodeHealth()["1"]; ok {
		t.Error("a draining node is still reported")
	}
	if o := <-got; o.Cause != "NORMAL_CLEARING" {
		t.Errorf("call in flight %+v", o)
	}
	deadline := time.Now().Add(waitFor)
	for !sentExit(s) {
		if time.Now().After(deadline) {
			t.Fatal("no exit after the drain")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(s.Originates()) != 1 {
		t.Errorf("%d originates", len(s.Originates()))
	}
}

func sentExit(s *esltest.Server) bool {
	for _, c := range s.Commands() {
		if c.Name == "exit" {
			return true
		}
	}
	return false
}

func TestApplyNodeUpdatesAndReplaces(t *testing.T) {
	s1 := esltest.Start(t, esltest.Options{})
	s2 := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s1, testOptions(), 30, 10)
	// New limits apply in place: same connection.
	if err := g.ApplyNode(nodeFor(t, s1, "1", 50, 20)); err != nil {
		t.Fatal(err)
	}
	if sps, m := g.NodeLimits("1"); sps != 49 || m != 20 || connections(s1) != 1 {
		t.Errorf("limits %d %d, %d connections", sps, m, connections(s1))
	}
	// A new address replaces the node.
	if err := g.ApplyNode(nodeFor(t, s2, "1", 50, 20)); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, g, "1")
	deadline := time.Now().Add(waitFor)
	for connections(s2) != 1 || !sentExit(s1) {
		if time.Now().After(deadline) {
			t.Fatalf("s2 connections %d, s1 exit %v", connections(s2), sentExit(s1))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := g.ApplyNode(dialer.FreeSwitchNode{ID: "2", Host: "bad host", Port: 0}); dialer.ErrorCode(err) != dialer.CodeInvalid {
		t.Errorf("invalid node: %v", err)
	}
}
