package dialer

import (
	"context"
	"errors"
	"testing"
)

// stubGateway answers with a fixed cause and a fixed recovery answer, and
// counts what it is asked.
type stubGateway struct {
	cause    string
	recover  error
	place    error
	check    error
	recovers int
}

func (g *stubGateway) Deliver(_ context.Context, a Attempt, _ func(Progress)) (Outcome, error) {
	return Outcome{Cause: g.cause}, nil
}

func (g *stubGateway) Recover(_ context.Context, s RecoverSpool, _ func(Progress)) (Outcome, error) {
	g.recovers++
	return Outcome{Cause: g.cause}, g.recover
}

func (g *stubGateway) Place(a Attempt) (Route, error) {
	r := a.Provider
	r.Node = "chosen"
	return r, g.place
}

func (g *stubGateway) CheckAttempt(Attempt) error { return g.check }

func TestGatewayRouterDelivers(t *testing.T) {
	fs := &stubGateway{cause: "FROM_FREESWITCH"}
	sip := &stubGateway{cause: "FROM_SIP"}
	r := NewGatewayRouter(map[int64]Gateway{GatewayFreeSWITCH: fs, GatewaySIP: sip, GatewaySendmail: nil})
	r.NotConfigured(GatewayKannel, "kannel.url")
	for _, tc := range []struct {
		flag  int64
		cause string
		field string // of the content fault for a kind not run here
	}{
		{GatewayFreeSWITCH, "FROM_FREESWITCH", ""},
		{GatewaySIP, "FROM_SIP", ""},
		{GatewaySendmail, "", "gateway_flag"}, // configured as nil: not run here
		{GatewayKannel, "", "kannel.url"},
		{0, "", "gateway_flag"},
	} {
		out, err := r.Deliver(context.Background(), Attempt{Provider: Route{ProviderID: 7, Gateway: tc.flag}}, nil)
		if out.Cause != tc.cause {
			t.Errorf("flag %d: %q", tc.flag, out.Cause)
		}
		if tc.field == "" {
			if err != nil {
				t.Errorf("flag %d: %v", tc.flag, err)
			}
			continue
		}
		v := ClassifyError(err)
		if !errors.Is(err, ErrNoGateway) || v.Fault != FaultContent || v.Field != tc.field || v.Cause != CauseNotConfigured {
			t.Errorf("flag %d: %v → %+v", tc.flag, err, v)
		}
	}
}

// Recovery asks only the gateway that placed the call: a failing gateway
// of another kind never holds up its spools (issue 11, item 1).
func TestGatewayRouterRecoversThroughThePlacingGateway(t *testing.T) {
	fs := &stubGateway{recover: ErrCallUnknown} // a FreeSWITCH with no node for it
	sip := &stubGateway{recover: ErrCallGone}
	r := NewGatewayRouter(map[int64]Gateway{GatewayFreeSWITCH: fs, GatewaySIP: sip})
	_, err := r.Recover(context.Background(), RecoverSpool{Attempt: Attempt{CallUUID: "u", Provider: Route{Gateway: GatewaySIP}}}, nil)
	if !errors.Is(err, ErrCallGone) || fs.recovers != 0 || sip.recovers != 1 {
		t.Fatalf("SIP spool: %v; FreeSWITCH asked %d, SIP %d", err, fs.recovers, sip.recovers)
	}
	_, err = r.Recover(context.Background(), RecoverSpool{Attempt: Attempt{CallUUID: "u", Provider: Route{Gateway: GatewayKannel}}}, nil)
	if !errors.Is(err, ErrCallUnknown) {
		t.Fatalf("a kind not run here: %v, want ErrCallUnknown", err)
	}
}

func TestGatewayRouterPlacesAndChecks(t *testing.T) {
	bad := ContentFault("text", errors.New("no"))
	fs := &stubGateway{check: bad}
	r := NewGatewayRouter(map[int64]Gateway{GatewayFreeSWITCH: fs})
	route, err := r.Place(Attempt{Provider: Route{Gateway: GatewayFreeSWITCH}})
	if err != nil || route.Node != "chosen" {
		t.Fatalf("Place: %+v, %v", route, err)
	}
	if err := r.CheckAttempt(Attempt{Provider: Route{Gateway: GatewayFreeSWITCH}}); !errors.Is(err, bad) {
		t.Fatalf("CheckAttempt: %v", err)
	}
	if err := r.CheckAttempt(Attempt{Provider: Route{Gateway: GatewaySIP}}); ClassifyError(err).Field != "gateway_flag" {
		t.Fatalf("CheckAttempt of a kind not run: %v", err)
	}
}
