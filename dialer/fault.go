package dialer

import (
	"errors"
	"fmt"
)

// Fault says whose fault an attempt that did not deliver is. It decides
// what happens next, together with the cause table in outcome.go:
//
//   - FaultCallee: the callee or their line (busy, no answer, invalid
//     number). The campaign's retry rules apply and the try counts.
//   - FaultRoute: the provider, trunk, FreeSWITCH node or the network
//     between (503, no response, transport error, node down). That route
//     is backed off, the attempt moves to another route at once, and no
//     try is spent.
//   - FaultContent: the content or the configuration (a recording that
//     cannot be played, a text the gateway refuses, a missing config
//     key). No route can carry it: the transmission fails final, its
//     campaign is blocked with the reason, and no route is backed off.
type Fault int

const (
	FaultNone Fault = iota
	FaultCallee
	FaultRoute
	FaultContent
)

func (f Fault) String() string {
	switch f {
	case FaultCallee:
		return "callee"
	case FaultRoute:
		return "route"
	case FaultContent:
		return "content"
	}
	return ""
}

// Causes for faults a gateway raises before or instead of a call.
const (
	// CauseGatewayError: the gateway could not try at all and did not say
	// why more precisely (an unclassified Deliver error). The route's.
	CauseGatewayError = "GATEWAY_ERROR"
	// CauseContentError: the gateway refused what it was asked to carry.
	CauseContentError = "CONTENT_ERROR"
	// CauseNotConfigured: the daemon runs no gateway for the provider's
	// gateway_flag (or the gateway lacks a config key it needs).
	CauseNotConfigured = "GATEWAY_NOT_CONFIGURED"
	// CauseAuthFailed: the trunk refused our credentials (401/407 after
	// we answered its challenge). The route's.
	CauseAuthFailed = "AUTHENTICATION_FAILED"
)

// FaultError is an error of a gateway that says whose fault it is. Deliver,
// Place and CheckAttempt return it; an error that is not a FaultError is
// the route's, with CauseGatewayError.
type FaultError struct {
	Fault Fault
	// Cause becomes the spool's response (a Q.850 name or one of the
	// Cause* constants of this package).
	Cause string
	// Field names what to fix for a content fault: an API field ("text",
	// "prefix", "username", "recording_id") or a config key ("sip.listen").
	Field string
	Err   error
}

func (e *FaultError) Error() string {
	msg := "fault"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Field != "" {
		return fmt.Sprintf("%s fault (%s): %s", e.Fault, e.Field, msg)
	}
	return fmt.Sprintf("%s fault: %s", e.Fault, msg)
}

func (e *FaultError) Unwrap() error { return e.Err }

// RouteFault wraps err as the route's fault with cause (CauseGatewayError
// when empty).
func RouteFault(cause string, err error) error {
	if cause == "" {
		cause = CauseGatewayError
	}
	return &FaultError{Fault: FaultRoute, Cause: cause, Err: err}
}

// ContentFault wraps err as the content's or configuration's fault, naming
// the field or config key to fix.
func ContentFault(field string, err error) error {
	return &FaultError{Fault: FaultContent, Cause: CauseContentError, Field: field, Err: err}
}

// FaultOf reads the fault of a gateway error: a FaultError anywhere in the
// chain, else the route's fault with CauseGatewayError. It returns nil for
// a nil error.
func FaultOf(err error) *FaultError {
	if err == nil {
		return nil
	}
	var fe *FaultError
	if errors.As(err, &fe) {
		out := *fe
		if out.Cause == "" {
			switch out.Fault {
			case FaultContent:
				out.Cause = CauseContentError
			default:
				out.Cause = CauseGatewayError
			}
		}
		if out.Fault == FaultNone {
			out.Fault = FaultRoute
		}
		return &out
	}
	return &FaultError{Fault: FaultRoute, Cause: CauseGatewayError, Err: err}
}
