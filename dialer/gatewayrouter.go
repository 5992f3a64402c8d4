package dialer

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoGateway is returned for an attempt whose provider names a gateway
// kind (gateway_flag) that this daemon does not run. It is a configuration
// fault: no route of that kind can carry anything until it is configured.
var ErrNoGateway = errors.New("no gateway for this provider's gateway_flag")

// GatewayRouter is the engine's one Gateway in a daemon with several: it
// hands each attempt to the gateway of its provider's kind (Route.Gateway,
// the provider's gateway_flag), and each of recovery's questions to the
// gateway that placed the call.
type GatewayRouter struct {
	byFlag map[int64]Gateway
	// keys name the config key that enables a gateway kind the daemon
	// does not run, for the fault that says what to fix.
	keys map[int64]string
}

// NewGatewayRouter routes gateway_flag values to gateways. Flags without a
// gateway fail with a content fault wrapping ErrNoGateway.
func NewGatewayRouter(byFlag map[int64]Gateway) *GatewayRouter {
	m := make(map[int64]Gateway, len(byFlag))
	for flag, gw := range byFlag {
		if gw != nil {
			m[flag] = gw
		}
	}
	return &GatewayRouter{byFlag: m, keys: map[int64]string{}}
}

// NotConfigured names the config key that would enable the gateway of a
// flag the daemon does not run (8: "sip.listen"), for the error that says
// what to fix.
func (r *GatewayRouter) NotConfigured(flag int64, key string) { r.keys[flag] = key }

func (r *GatewayRouter) gateway(route Route) (Gateway, error) {
	gw, ok := r.byFlag[route.Gateway]
	if !ok {
		field := r.keys[route.Gateway]
		if field == "" {
			field = "gateway_flag"
		}
		return nil, &FaultError{Fault: FaultContent, Cause: CauseNotConfigured, Field: field,
			Err: fmt.Errorf("provider %d (gateway_flag %d): %w; set %s", route.ProviderID, route.Gateway, ErrNoGateway, field)}
	}
	return gw, nil
}

// Deliver implements Gateway.
func (r *GatewayRouter) Deliver(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error) {
	gw, err := r.gateway(a.Provider)
	if err != nil {
		return Outcome{}, err
	}
	return gw.Deliver(ctx, a, progress)
}

// Place implements Placer: the gateway of the attempt's kind places it if
// it can choose; else the route stays as the provider gives it.
func (r *GatewayRouter) Place(a Attempt) (Route, error) {
	gw, err := r.gateway(a.Provider)
	if err != nil {
		return a.Provider, err
	}
	if p, ok := gw.(Placer); ok {
		return p.Place(a)
	}
	return a.Provider, nil
}

// CheckAttempt implements AttemptChecker with the gateway of the attempt's
// kind; a kind the daemon does not run is refused naming its config key.
func (r *GatewayRouter) CheckAttempt(a Attempt) error {
	gw, err := r.gateway(a.Provider)
	if err != nil {
		return err
	}
	if c, ok := gw.(AttemptChecker); ok {
		return c.CheckAttempt(a)
	}
	return nil
}

// Recover implements Recoverer: only the gateway that placed the call is
// asked, so one gateway's trouble never holds up another's spools. A
// gateway that cannot find calls again says ErrCallUnknown; one of a kind
// the daemon no longer runs, likewise.
func (r *GatewayRouter) Recover(ctx context.Context, s RecoverSpool, progress func(Progress)) (Outcome, error) {
	gw, err := r.gateway(s.Attempt.Provider)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrCallUnknown, err)
	}
	rc, ok := gw.(Recoverer)
	if !ok {
		return Outcome{}, fmt.Errorf("%w: gateway_flag %d cannot find calls again", ErrCallUnknown, s.Attempt.Provider.Gateway)
	}
	return rc.Recover(ctx, s, progress)
}
