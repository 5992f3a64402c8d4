package dialer

import (
	"context"
	"errors"
	"testing"
	"time"
)

// stubGateway answers with a fixed cause and knows a fixed set of calls.
type stubGateway struct {
	cause string
	live  map[string]bool
	err   error
}

func (g *stubGateway) Deliver(_ context.Context, a Attempt, _ func(Progress)) (Outcome, error) {
	return Outcome{Cause: g.cause}, nil
}

func (g *stubGateway) CallExists(_ context.Context, _, uuid string) (bool, error) {
	return g.live[uuid], g.err
}

func TestGatewayRouterDelivers(t *testing.T) {
	fs := &stubGateway{cause: "FROM_FREESWITCH"}
	sip := &stubGateway{cause: "FROM_SIP"}
	r := NewGatewayRouter(nil, map[int64]Gateway{GatewayFreeSWITCH: fs, GatewaySIP: sip, GatewaySendmail: nil})
	for _, tc := range []struct {
		flag    int64
		cause   string
		noRoute bool
	}{
		{GatewayFreeSWITCH, "FROM_FREESWITCH", false},
		{GatewaySIP, "FROM_SIP", false},
		{GatewaySendmail, "", true}, // configured as nil: not run here
		{GatewayKannel, "", true},
		{0, "", true},
	} {
		out, err := r.Deliver(context.Background(), Attempt{Provider: Route{ProviderID: 7, Gateway: tc.flag}}, nil)
		if tc.noRoute != errors.Is(err, ErrNoGateway) || out.Cause != tc.cause {
			t.Errorf("flag %d: %q, %v", tc.flag, out.Cause, err)
		}
	}
}

func TestGatewayRouterCallExists(t *testing.T) {
	down := errors.New("node down")
	for _, tc := range []struct {
		name   string
		a, b   *stubGateway
		exists bool
		err    bool
	}{
		{"one knows it", &stubGateway{live: map[string]bool{"u": true}}, &stubGateway{}, true, false},
		{"nobody knows it", &stubGateway{}, &stubGateway{}, false, false},
		{"one knows it, one is down", &stubGateway{live: map[string]bool{"u": true}}, &stubGateway{err: down}, true, false},
		{"unknown: never taken for gone", &stubGateway{}, &stubGateway{err: down}, false, true},
	} {
		r := NewGatewayRouter(nil, map[int64]Gateway{GatewayFreeSWITCH: tc.a, GatewaySIP: tc.b})
		exists, err := r.CallExists(context.Background(), "", "u")
		if exists != tc.exists || (err != nil) != tc.err {
			t.Errorf("%s: exists %v, err %v", tc.name, exists, err)
		}
	}
}

func TestGatewayRouterWaitsOutCallsItCannotFollow(t *testing.T) {
	g := &stubGateway{live: map[string]bool{"u": true}}
	r := NewGatewayRouter(nil, map[int64]Gateway{GatewaySIP: g})
	r.gonePoll = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Reattach(ctx, Attempt{CallUUID: "u", Provider: Route{Gateway: GatewaySIP}}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a live call was given up: %v", err)
	}
	g.live = nil // the call ends
	if _, err := r.Reattach(context.Background(), Attempt{CallUUID: "u", Provider: Route{Gateway: GatewaySIP}}, nil); !errors.Is(err, ErrCallGone) {
		t.Fatalf("an ended call: %v, want ErrCallGone", err)
	}
}
