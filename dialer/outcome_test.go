package dialer

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	answered := time.Unix(1000, 0)
	tests := []struct {
		name     string
		o        Outcome
		want     Disposition
		cause    string
		invalid  bool
		provider bool
	}{
		{"answered, normal clearing", Outcome{Cause: "NORMAL_CLEARING", Connect: answered, Delivered: true}, Completed, "NORMAL_CLEARING", false, false},
		{"answered, no cause", Outcome{Connect: answered, Delivered: true}, Completed, "NORMAL_CLEARING", false, false},
		{"answered wins over a late failure cause", Outcome{Cause: "MEDIA_TIMEOUT", Connect: answered, Delivered: true}, Completed, "MEDIA_TIMEOUT", false, false},
		{"answered wins over a SIP code", Outcome{Cause: "NORMAL_CLEARING", SIPCode: 486, Connect: answered, Delivered: true}, Completed, "NORMAL_CLEARING", false, false},
		{"unanswered normal clearing", Outcome{Cause: "NORMAL_CLEARING"}, Retry, "NORMAL_CLEARING", false, false},
		{"busy", Outcome{Cause: "USER_BUSY"}, Retry, "USER_BUSY", false, false},
		{"lower case cause", Outcome{Cause: " user_busy "}, Retry, "USER_BUSY", false, false},
		{"no answer", Outcome{Cause: "NO_ANSWER"}, Retry, "NO_ANSWER", false, false},
		{"no user response", Outcome{Cause: "NO_USER_RESPONSE"}, Retry, "NO_USER_RESPONSE", false, false},
		{"temporary failure", Outcome{Cause: "NORMAL_TEMPORARY_FAILURE"}, Retry, "NORMAL_TEMPORARY_FAILURE", false, false},
		{"timer expired", Outcome{Cause: "RECOVERY_ON_TIMER_EXPIRE"}, Retry, "RECOVERY_ON_TIMER_EXPIRE", false, false},
		{"originator cancel", Outcome{Cause: "ORIGINATOR_CANCEL"}, Retry, "ORIGINATOR_CANCEL", false, false},
		{"unallocated", Outcome{Cause: "UNALLOCATED_NUMBER"}, Final, "UNALLOCATED_NUMBER", true, false},
		{"invalid format", Outcome{Cause: "INVALID_NUMBER_FORMAT"}, Final, "INVALID_NUMBER_FORMAT", true, false},
		{"no route", Outcome{Cause: "NO_ROUTE_DESTINATION"}, Final, "NO_ROUTE_DESTINATION", true, false},
		{"rejected", Outcome{Cause: "CALL_REJECTED"}, Final, "CALL_REJECTED", false, false},
		{"barred", Outcome{Cause: "OUTGOING_CALL_BARRED"}, Final, "OUTGOING_CALL_BARRED", false, false},
		{"congestion", Outcome{Cause: "NORMAL_CIRCUIT_CONGESTION"}, Retry, "NORMAL_CIRCUIT_CONGESTION", false, true},
		{"gateway down", Outcome{Cause: "GATEWAY_DOWN"}, Retry, "GATEWAY_DOWN", false, true},
		{"unknown cause retries", Outcome{Cause: "SOMETHING_NEW"}, Retry, "SOMETHING_NEW", false, false},
		{"nothing at all", Outcome{}, Retry, "NORMAL_UNSPECIFIED", false, false},
		{"SIP 486", Outcome{SIPCode: 486}, Retry, "USER_BUSY", false, false},
		{"SIP 600", Outcome{SIPCode: 600}, Retry, "USER_BUSY", false, false},
		{"SIP 408", Outcome{SIPCode: 408, Cause: "RECOVERY_ON_TIMER_EXPIRE"}, Retry, "NO_ANSWER", false, false},
		{"SIP 480", Outcome{SIPCode: 480, Cause: "NO_USER_RESPONSE"}, Retry, "NO_ANSWER", false, false},
		{"SIP 404", Outcome{SIPCode: 404}, Final, "UNALLOCATED_NUMBER", true, false},
		{"SIP 484", Outcome{SIPCode: 484}, Final, "INVALID_NUMBER_FORMAT", true, false},
		{"SIP 604", Outcome{SIPCode: 604}, Final, "UNALLOCATED_NUMBER", true, false},
		{"SIP 403", Outcome{SIPCode: 403}, Final, "CALL_REJECTED", false, false},
		{"SIP 603", Outcome{SIPCode: 603}, Final, "CALL_REJECTED", false, false},
		{"SIP 503 over FreeSWITCH's cause", Outcome{SIPCode: 503, Cause: "NORMAL_TEMPORARY_FAILURE"}, Retry, "NORMAL_CIRCUIT_CONGESTION", false, true},
		{"SIP 502", Outcome{SIPCode: 502}, Retry, "NETWORK_OUT_OF_ORDER", false, true},
		{"SIP 407 is the trunk's credentials", Outcome{SIPCode: 407}, Retry, CauseAuthFailed, false, true},
		{"SIP 401 is the trunk's credentials", Outcome{SIPCode: 401}, Retry, CauseAuthFailed, false, true},
		{"487 to our CANCEL at the ring timeout keeps NO_ANSWER", Outcome{SIPCode: 487, Cause: "NO_ANSWER"}, Retry, "NO_ANSWER", false, false},
		{"answered, not delivered, no reason", Outcome{Connect: answered, Cause: "NORMAL_CLEARING"}, Final, CauseNotDelivered, false, false},
		{"answered, file not found", Outcome{Connect: answered, Failure: CauseMediaError}, Final, CauseMediaError, false, false},
		{"answered, fax failed retries", Outcome{Connect: answered, Failure: CauseFaxFailed}, Retry, CauseFaxFailed, false, false},
		{"answered, message cut", Outcome{Connect: answered, Failure: CauseMessageCut}, Final, CauseMessageCut, false, false},
		{"answered by a machine, hung up (on_machine hang_up)", Outcome{Connect: answered, Cause: "NORMAL_CLEARING", Failure: CauseMachineHangUp, Machine: MachineFound}, Retry, CauseMachineHangUp, false, false},
		{"opted out", Outcome{Connect: answered, Cause: "NORMAL_CLEARING", Failure: CauseOptedOut, OptedOut: true}, Final, CauseOptedOut, false, false},
		{"opted out after the whole message", Outcome{Connect: answered, Cause: "NORMAL_CLEARING", Delivered: true, OptedOut: true}, Completed, "NORMAL_CLEARING", false, false},
		{"SIP 487", Outcome{SIPCode: 487}, Retry, "ORIGINATOR_CANCEL", false, false},
		{"unlisted 5xx blames the provider", Outcome{SIPCode: 599}, Retry, "NETWORK_OUT_OF_ORDER", false, true},
		{"unlisted 6xx is final", Outcome{SIPCode: 699}, Final, "CALL_REJECTED", false, false},
		{"unlisted 4xx retries", Outcome{SIPCode: 499}, Retry, "NORMAL_UNSPECIFIED", false, false},
		{"provisional code ignored", Outcome{SIPCode: 183, Cause: "NO_ANSWER"}, Retry, "NO_ANSWER", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Classify(tt.o)
			if v.Disposition != tt.want || v.Cause != tt.cause || v.Invalid != tt.invalid || (v.Fault == FaultRoute) != tt.provider {
				t.Errorf("Classify(%+v) = %+v; want %v %s invalid=%v provider=%v", tt.o, v, tt.want, tt.cause, tt.invalid, tt.provider)
			}
		})
	}
}

// Every cause the SIP table produces must be one the cause table knows, or
// the SIP mapping silently falls back to "retry".
func TestSIPCausesAreKnown(t *testing.T) {
	for code, cause := range sipCauses {
		if cause == "INTERWORKING" {
			continue // deliberately unlisted: retried
		}
		if _, ok := causeRules[cause]; !ok {
			t.Errorf("SIP %d maps to %s, which the cause table does not list", code, cause)
		}
	}
}

func TestFaultOfEveryVerdict(t *testing.T) {
	answered := time.Unix(1000, 0)
	tests := []struct {
		name  string
		o     Outcome
		fault Fault
	}{
		{"delivered", Outcome{Connect: answered, Delivered: true}, FaultNone},
		{"busy is the callee's", Outcome{Cause: "USER_BUSY"}, FaultCallee},
		{"congestion is the route's", Outcome{SIPCode: 503}, FaultRoute},
		{"media error is the content's", Outcome{Connect: answered, Failure: CauseMediaError}, FaultContent},
		{"cut message is the callee's", Outcome{Connect: answered, Failure: CauseMessageCut}, FaultCallee},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := Classify(tt.o); v.Fault != tt.fault {
				t.Fatalf("Classify(%+v).Fault = %v; want %v", tt.o, v.Fault, tt.fault)
			}
		})
	}
}

func TestClassifyError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		disp  Disposition
		cause string
		fault Fault
		field string
	}{
		{"plain error is the route's", errors.New("boom"), Retry, CauseGatewayError, FaultRoute, ""},
		{"route fault keeps its cause", RouteFault("NETWORK_OUT_OF_ORDER", errors.New("x")), Retry, "NETWORK_OUT_OF_ORDER", FaultRoute, ""},
		{"wrapped route fault", fmt.Errorf("node a: %w", RouteFault("", errors.New("x"))), Retry, CauseGatewayError, FaultRoute, ""},
		{"content fault names its field", ContentFault("text", errors.New("bad")), Final, CauseContentError, FaultContent, "text"},
		{"not configured", &FaultError{Fault: FaultContent, Cause: CauseNotConfigured, Field: "sip.listen"}, Final, CauseNotConfigured, FaultContent, "sip.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ClassifyError(tt.err)
			if v.Disposition != tt.disp || v.Cause != tt.cause || v.Fault != tt.fault || v.Field != tt.field {
				t.Fatalf("ClassifyError(%v) = %+v", tt.err, v)
			}
		})
	}
}
