package store

import (
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func TestReportAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  dialer.ReportRow
		want bool
	}{
		{"delivered", dialer.ReportRow{Answered: true, Outcome: "completed", Cause: "NORMAL_CLEARING"}, false},
		{"callee hung up first", dialer.ReportRow{Answered: true, Outcome: "failed", Cause: dialer.CauseNotDelivered}, true},
		{"busy, never answered", dialer.ReportRow{Outcome: "failed", Cause: "USER_BUSY"}, false},
		{"opted out", dialer.ReportRow{Answered: true, Outcome: "failed", Cause: dialer.CauseOptedOut, OptedOut: true}, false},
		{"machine hung up on", dialer.ReportRow{Answered: true, Outcome: "failed", Cause: dialer.CauseMachineHangUp}, false},
		{"still in the call", dialer.ReportRow{Answered: true, Outcome: "initiated"}, false},
	} {
		if got := abandoned(tc.row); got != tc.want {
			t.Errorf("%s: abandoned %v, want %v", tc.name, got, tc.want)
		}
	}
}
