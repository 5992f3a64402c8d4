package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialerd/dialerd/dialer"
)

// waitFor polls cond until it holds, failing the test after a while. It
// waits for a state; it does not measure how fast the state came.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestTrunkHealthThreeStates: a trunk is unknown until its first probe,
// up when it answers, down after OptionsMisses unanswered pings, up again
// at the next answer; each change is reported once, going up also as a
// dialer.RouteUp. Before: a new trunk started up, before any probe.
func TestTrunkHealthThreeStates(t *testing.T) {
	changes := make(chan HealthChange, 10)
	ups := make(chan dialer.RouteUp, 10)
	var logs bytes.Buffer
	g := newTestGateway(t, Config{
		OptionsInterval: 300 * time.Millisecond,
		OptionsMisses:   2,
		OnHealth:        func(c HealthChange) { changes <- c },
		OnRouteUp:       func(u dialer.RouteUp) { ups <- u },
		Logger:          slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)),
	})
	trunk := startSipp(t, "options", sippOptions{calls: 2})
	route := dialer.Route{ProviderID: 3, Host: "127.0.0.1", Port: trunk.port}
	if err := g.SetTrunks([]Trunk{{Route: route}}); err != nil {
		t.Fatal(err)
	}
	// (Unknown before the first answer: TestTrunkUnknownUntilProbed.)
	expectChange(t, changes, HealthChange{ProviderID: 3, State: TrunkUp, Up: true})
	if u := <-ups; u.ProviderID != 3 {
		t.Errorf("route up %+v", u)
	}
	if got := scrape(t, g); got != `provider="3" 1` {
		t.Errorf("metric %q, want up", got)
	}
	// SIPp answers two pings and exits; the trunk then stops answering.
	trunk.expectSuccess(t)
	expectChange(t, changes, HealthChange{ProviderID: 3, State: TrunkDown})
	if h, _ := g.Health(3); h.Up || h.State != TrunkDown || h.LastChange.IsZero() {
		t.Errorf("health after misses %+v", h)
	}
	if got := scrape(t, g); got != `provider="3" 0` {
		t.Errorf("metric %q, want down", got)
	}

	// The trunk answers again on the same port.
	back := startSipp(t, "options", sippOptions{calls: 1, port: trunk.port})
	expectChange(t, changes, HealthChange{ProviderID: 3, State: TrunkUp, Up: true})
	back.expectSuccess(t)
	if u := <-ups; u.ProviderID != 3 {
		t.Errorf("route up %+v", u)
	}

	if err := g.SetTrunks(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Health(3); ok {
		t.Error("health of a trunk no longer watched")
	}
	// One INFO line per change, each attribute once.
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "trunk health") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Errorf("%d health log lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, "level=INFO") || strings.Count(l, "provider_id=") != 1 || strings.Count(l, "state=") != 1 {
			t.Errorf("log line %q", l)
		}
	}
}

// TestTrunkUnknownUntilProbed: a trunk that has not answered yet and has
// not missed OptionsMisses pings is unknown, has no metric sample, and
// Place tries it. Before: it started up.
func TestTrunkUnknownUntilProbed(t *testing.T) {
	silent := startUAS(t, nil)
	g := newTestGateway(t, Config{OptionsInterval: time.Second, OptionsMisses: 3})
	route := dialer.Route{ProviderID: 4, Host: "127.0.0.1", Port: silent.port()}
	if err := g.SetTrunks([]Trunk{{Route: route}}); err != nil {
		t.Fatal(err)
	}
	silent.waitRequests(sip.OPTIONS, 1, 5*time.Second) // the first probe goes at once
	if h, ok := g.Health(4); !ok || h.State != TrunkUnknown || h.Up {
		t.Fatalf("health %+v, %v; want unknown", h, ok)
	}
	if got := scrape(t, g); got != "" {
		t.Errorf("metric of an unknown trunk: %q", got)
	}
	if _, err := g.Place(dialer.Attempt{Provider: route}); err != nil {
		t.Errorf("Place of an unknown trunk: %v", err)
	}
}

// TestTrunkAnsweringInvitesDoesNotFlap: a trunk that ignores OPTIONS but
// answers INVITEs stays up. Before: it went down after OptionsMisses pings
// while its INVITEs were being answered.
func TestTrunkAnsweringInvitesDoesNotFlap(t *testing.T) {
	uas := startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		if req.Method == sip.INVITE {
			u.respond(req, from, 486, "Busy Here")
		}
	})
	changes := make(chan HealthChange, 10)
	g := newTestGateway(t, Config{
		OptionsInterval: 100 * time.Millisecond,
		OptionsMisses:   2,
		OnHealth:        func(c HealthChange) { changes <- c },
	})
	route := dialer.Route{ProviderID: 5, Host: "127.0.0.1", Port: uas.port()}
	if err := g.SetTrunks([]Trunk{{Route: route}}); err != nil {
		t.Fatal(err)
	}
	wav := writeWAV(t, tone(100*time.Millisecond))
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		n := callSeq.Add(1)
		a := dialer.Attempt{
			CallUUID: fmt.Sprintf("6b1f3c2e-0000-4000-8000-%012d", n), Program: dialer.ProgramVoiceMessage,
			Phone: "+15551230001", Provider: route, Media: dialer.Media{RecordingPath: wav},
		}
		if out, err := g.Deliver(testContext(t), a, nil); err != nil || out.SIPCode != 486 {
			t.Fatalf("Deliver = %+v, %v", out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		select {
		case c := <-changes:
			if c.State != TrunkUp {
				t.Fatalf("health change %+v while INVITEs were answered", c)
			}
			continue
		default:
		}
		break
	}
	if h, _ := g.Health(5); h.State != TrunkUp {
		t.Errorf("health %+v", h)
	}
	if _, err := g.Place(dialer.Attempt{Provider: route}); err != nil {
		t.Errorf("Place refused a trunk that answers: %v", err)
	}
}

// TestPlaceRefusesATrunkKnownDown: Place, on the engine's loop, refuses a
// down trunk as the route's fault and tries one whose state is unknown.
func TestPlaceRefusesATrunkKnownDown(t *testing.T) {
	silent := startUAS(t, nil)
	g := newTestGateway(t, Config{OptionsInterval: 50 * time.Millisecond, OptionsMisses: 2})
	route := dialer.Route{ProviderID: 6, Host: "127.0.0.1", Port: silent.port()}
	if _, err := g.Place(dialer.Attempt{Provider: route}); err != nil {
		t.Errorf("Place of an unwatched trunk: %v", err)
	}
	if err := g.SetTrunks([]Trunk{{Route: route}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Place(dialer.Attempt{Provider: route}); err != nil {
		t.Errorf("Place of an unknown trunk: %v", err)
	}
	waitFor(t, "down", func() bool { h, _ := g.Health(6); return h.State == TrunkDown })
	_, err := g.Place(dialer.Attempt{Provider: route})
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || !errors.Is(err, ErrTrunkIsDown) {
		t.Errorf("Place of a down trunk: %v", err)
	}
}

// scrape collects the gateway's metric as `labels value` lines.
func scrape(t *testing.T, g *Gateway) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(g.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out = append(out, fmt.Sprintf("%s %g", strings.Join(labels, ","), m.GetGauge().GetValue()))
		}
	}
	return strings.Join(out, "\n")
}

// syncWriter serialises writes of concurrent loggers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestTrunkRegistersRefreshesAndUnregisters(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			g := newTestGateway(t, Config{OptionsInterval: time.Minute, RegisterExpiry: time.Hour})
			registrar := startSipp(t, "register", sippOptions{
				transport: transport,
				keys:      map[string]string{"user": "trunk1", "password": "s3cret"},
			})
			route := dialer.Route{ProviderID: 4, Host: "127.0.0.1", Port: registrar.port, Transport: transport,
				Username: "trunk1", Password: "s3cret"}
			if err := g.SetTrunks([]Trunk{{Route: route, Register: true}}); err != nil {
				t.Fatal(err)
			}
			var first time.Time
			waitFor(t, "registration", func() bool {
				h, _ := g.Health(4)
				first = h.RegisteredUntil
				return h.Registered
			})
			// The registrar granted 2 s: the binding must be refreshed.
			waitFor(t, "refresh", func() bool {
				h, _ := g.Health(4)
				return h.Registered && h.RegisteredUntil.After(first)
			})
			if err := g.SetTrunks(nil); err != nil {
				t.Fatal(err)
			}
			registrar.expectSuccess(t) // it saw Expires: 0
		})
	}
}

func TestSetTrunksValidates(t *testing.T) {
	g := newTestGateway(t, Config{})
	bad := []Trunk{
		{Route: dialer.Route{ProviderID: 1, Host: "evil;transport=tcp"}},
		{Route: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Username: "a@b"}},
		{Route: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Transport: "tls"}},
	}
	for _, tr := range bad {
		if err := g.SetTrunks([]Trunk{tr}); err == nil {
			t.Errorf("SetTrunks accepted %+v", tr.Route)
		}
	}
	dup := dialer.Route{ProviderID: 1, Host: "127.0.0.1"}
	if err := g.SetTrunks([]Trunk{{Route: dup}, {Route: dup}}); err == nil {
		t.Error("SetTrunks accepted a provider twice")
	}
	if _, ok := g.Health(1); ok {
		t.Error("a rejected SetTrunks changed the watched set")
	}
}

func expectChange(t *testing.T, changes <-chan HealthChange, want HealthChange) {
	t.Helper()
	select {
	case c := <-changes:
		if c.ProviderID != want.ProviderID || c.State != want.State || c.Up != want.Up || c.At.IsZero() {
			t.Fatalf("health change %+v, want %+v", c, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no health change to %v", want.State)
	}
}
