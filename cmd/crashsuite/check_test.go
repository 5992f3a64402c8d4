package main

import (
	"testing"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

func TestCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	contacts := []e2e.Contact{{ID: 1, Phone: "+15552000000"}, {ID: 2, Phone: "+15552000006"}}
	done := []e2e.Transmission{{ID: 10, ContactID: 1, Status: "completed"}, {ID: 11, ContactID: 2, Status: "failed"}}
	spool := func(id int64, status string) e2e.Spool { return e2e.Spool{ID: id, Status: status} }
	okCounters := e2e.Campaign{Status: "completed", Counters: e2e.Counters{Total: 2, Done: 2, Answered: 1, Failed: 1}}
	answered := wireCall{ID: "a", Number: "15552000000", At: at(0), Answered: true, AnsweredAt: at(1)}
	busy1 := wireCall{ID: "b1", Number: "15552000006", At: at(0)}
	busy2 := wireCall{ID: "b2", Number: "15552000006", At: at(2)}

	tests := []struct {
		name  string
		calls []wireCall
		st    apiState
		want  result
	}{
		{
			name:  "clean: a busy number retried is not over-dialled",
			calls: []wireCall{answered, busy1, busy2},
			st: apiState{Campaign: okCounters, Contacts: contacts, Txs: done,
				Spools: [][]e2e.Spool{{spool(1, "completed")}, {spool(2, "failed"), spool(3, "failed")}}},
			want: result{Numbers: 2, Calls: 3, Answered: 1},
		},
		{
			name:  "an answered number called again, and more calls than spools",
			calls: []wireCall{answered, {ID: "a2", Number: "15552000000", At: at(5)}, busy1},
			st: apiState{Campaign: okCounters, Contacts: contacts, Txs: done,
				Spools: [][]e2e.Spool{{spool(1, "completed")}, {spool(2, "failed")}}},
			want: result{Numbers: 2, Calls: 3, Answered: 1, Redialled: 1, OverDialled: 1},
		},
		{
			name:  "left open, initiated, lost, and counters that lie",
			calls: []wireCall{{ID: "a", Number: "15552000000", At: at(0), Answered: true, AnsweredAt: at(1), Open: true}},
			st: apiState{Campaign: e2e.Campaign{Status: "completed", Counters: e2e.Counters{Total: 1, Done: 1, Answered: 1}},
				Contacts: contacts, Txs: done[:1], Spools: [][]e2e.Spool{{spool(1, "initiated")}}},
			// Transmission 10 is completed, so it is not lost; contact 2 has
			// none. Counters: total 1 matches; done/answered match; none
			// differ, but the campaign is complete with nothing open, so 0.
			want: result{Numbers: 2, Calls: 1, Answered: 1, LeftOpen: 1, Initiated: 1, Lost: 1},
		},
		{
			name:  "a transmission still processing under a completed campaign",
			calls: []wireCall{answered},
			st: apiState{Campaign: e2e.Campaign{Status: "completed", Counters: e2e.Counters{Total: 1, Done: 1, Answered: 1}},
				Contacts: contacts[:1], Txs: []e2e.Transmission{{ID: 10, ContactID: 1, Status: "processing"}},
				Spools: [][]e2e.Spool{{spool(1, "initiated")}}},
			// done and answered are 1 where the transmissions say 0,
			// in_flight 0 where they say 1, and completed with one open.
			want: result{Numbers: 1, Calls: 1, Answered: 1, Initiated: 1, Lost: 1, Mismatches: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			check(&got, tt.calls, tt.st)
			got.Examples, got.shown = nil, nil
			if got.Numbers != tt.want.Numbers || got.Calls != tt.want.Calls || got.Answered != tt.want.Answered ||
				got.OverDialled != tt.want.OverDialled || got.Redialled != tt.want.Redialled || got.LeftOpen != tt.want.LeftOpen ||
				got.Initiated != tt.want.Initiated || got.Lost != tt.want.Lost || got.Mismatches != tt.want.Mismatches {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBehaviour(t *testing.T) {
	for n, want := range map[string]string{"+15552000000": "answer", "15552000005": "answer", "15552000006": "busy",
		"15552000007": "busy", "15552000008": "ringout", "15552000009": "ringout"} {
		if got := behaviour(n); got != want {
			t.Errorf("behaviour(%s) = %s, want %s", n, got, want)
		}
	}
}

func TestTokenTenant(t *testing.T) {
	// {"tid":"ABCDEFGHIJKLMNOPQRSTUV","sub":"1"}
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJBQkNERUZHSElKS0xNTk9QUVJTVFVWIiwic3ViIjoiMSJ9.sig"
	if got, err := tokenTenant(tok); err != nil || got != "ABCDEFGHIJKLMNOPQRSTUV" {
		t.Fatalf("tokenTenant = %q, %v", got, err)
	}
	if _, err := tokenTenant("not-a-jwt"); err == nil {
		t.Fatal("no error for a token that is not a JWT")
	}
}
