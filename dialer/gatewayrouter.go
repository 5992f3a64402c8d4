package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoGateway is returned for an attempt whose provider names a gateway
// kind (gateway_flag) that this daemon does not run. The attempt never
// reached the network, so the engine keeps its try and backs off the
// provider.
var ErrNoGateway = errors.New("no gateway for this provider's gateway_flag")

// GatewayRouter is the engine's one Gateway in a daemon with several: it
// hands each attempt to the gateway of its provider's kind (Route.Gateway,
// the provider's gateway_flag), and answers recovery's questions by asking
// the gateways.
type GatewayRouter struct {
	byFlag map[int64]Gateway
	clock  Clock
	// gonePoll is how often a live call that its gateway cannot follow is
	// checked until it ends.
	gonePoll time.Duration
}

// NewGatewayRouter routes gateway_flag values to gateways. Flags without a
// gateway fail with ErrNoGateway.
func NewGatewayRouter(clock Clock, byFlag map[int64]Gateway) *GatewayRouter {
	if clock == nil {
		clock = SystemClock{}
	}
	m := make(map[int64]Gateway, len(byFlag))
	for flag, gw := range byFlag {
		if gw != nil {
			m[flag] = gw
		}
	}
	return &GatewayRouter{byFlag: m, clock: clock, gonePoll: 2 * time.Second}
}

func (r *GatewayRouter) gateway(a Attempt) (Gateway, error) {
	gw, ok := r.byFlag[a.Provider.Gateway]
	if !ok {
		return nil, fmt.Errorf("provider %d (gateway_flag %d): %w", a.Provider.ProviderID, a.Provider.Gateway, ErrNoGateway)
	}
	return gw, nil
}

// Deliver implements Gateway.
func (r *GatewayRouter) Deliver(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error) {
	gw, err := r.gateway(a)
	if err != nil {
		return Outcome{}, err
	}
	return gw.Deliver(ctx, a, progress)
}

// CallExists implements CallChecker: a call exists when any gateway that
// can tell says so. An error is returned only when no gateway said yes and
// one could not answer, so an unknown state is never taken for "gone".
func (r *GatewayRouter) CallExists(ctx context.Context, node, callUUID string) (bool, error) {
	var errs []error
	for _, gw := range r.byFlag {
		cc, ok := gw.(CallChecker)
		if !ok {
			continue
		}
		exists, err := cc.CallExists(ctx, node, callUUID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if exists {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

// Reattach implements Reattacher. A gateway that cannot follow a call it
// did not start is waited out: the call is polled until it is gone, then
// reported as ErrCallGone. Its outcome is lost, but it is never dialled a
// second time while it is still live.
func (r *GatewayRouter) Reattach(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error) {
	gw, err := r.gateway(a)
	if err != nil {
		return Outcome{}, err
	}
	if ra, ok := gw.(Reattacher); ok {
		return ra.Reattach(ctx, a, progress)
	}
	cc, ok := gw.(CallChecker)
	if !ok {
		return Outcome{}, ErrCallGone
	}
	for {
		exists, err := cc.CallExists(ctx, a.Provider.Node, a.CallUUID)
		if err == nil && !exists {
			return Outcome{}, ErrCallGone
		}
		if err := r.clock.Sleep(ctx, r.gonePoll); err != nil {
			return Outcome{}, err
		}
	}
}
