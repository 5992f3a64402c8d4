package sip

import (
	"testing"
	"time"

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

func TestTrunkGoesDownAndComesBack(t *testing.T) {
	changes := make(chan HealthChange, 10)
	g := newTestGateway(t, Config{
		OptionsInterval: 100 * time.Millisecond,
		OptionsMisses:   2,
		OnHealth:        func(c HealthChange) { changes <- c },
	})
	trunk := startSipp(t, "options", sippOptions{calls: 2})
	route := dialer.Route{ProviderID: 3, Host: "127.0.0.1", Port: trunk.port}
	if err := g.SetTrunks([]Trunk{{Route: route}}); err != nil {
		t.Fatal(err)
	}
	if h, ok := g.Health(3); !ok || !h.Up {
		t.Fatalf("new trunk health %+v, %v; want up", h, ok)
	}
	// SIPp answers two pings and exits; the trunk then stops answering.
	trunk.expectSuccess(t)
	expectChange(t, changes, HealthChange{ProviderID: 3, Up: false})
	if h, _ := g.Health(3); h.Up || h.LastChange.IsZero() {
		t.Errorf("health after misses %+v", h)
	}

	// The trunk answers again on the same port.
	back := startSipp(t, "options", sippOptions{calls: 1, port: trunk.port})
	expectChange(t, changes, HealthChange{ProviderID: 3, Up: true})
	back.expectSuccess(t)

	if err := g.SetTrunks(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Health(3); ok {
		t.Error("health of a trunk no longer watched")
	}
}

func expectChange(t *testing.T, changes <-chan HealthChange, want HealthChange) {
	t.Helper()
	select {
	case c := <-changes:
		if c.ProviderID != want.ProviderID || c.Up != want.Up || c.At.IsZero() {
			t.Fatalf("health change %+v, want %+v", c, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no health change to up=%v", want.Up)
	}
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
