package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// wireCall is one call as the far end saw it: a SIP Call-ID at SIPp, a
// channel at the fake FreeSWITCH.
type wireCall struct {
	ID     string
	Number string // without a leading '+'
	At     time.Time
	// Answered: the callee picked up (SIPp sent 200, FreeSWITCH fired
	// CHANNEL_ANSWER).
	Answered   bool
	AnsweredAt time.Time
	// Open: the call is still up at the far end at the check — an answered
	// SIP dialog dialerd confirmed (ACK) and never sent BYE, a FreeSWITCH
	// channel never hung up.
	Open bool
}

// apiState is what dialerd's API says about the campaign after the run.
type apiState struct {
	Campaign e2e.Campaign
	Contacts []e2e.Contact
	Txs      []e2e.Transmission
	Spools   [][]e2e.Spool // per transmission, in the order of Txs
}

// result is one run's figures: the summary table's line.
type result struct {
	Gateway     string
	Seed        int64
	Kills       int
	Numbers     int
	Calls       int
	Answered    int
	OverDialled int
	Redialled   int
	LeftOpen    int
	Initiated   int
	Lost        int
	Mismatches  int
	// Examples name a few violations of each kind, for the report.
	Examples []string
	shown    map[string]int
	// Err is a run that could not be carried out (not a violation).
	Err error
}

// violations is the number of broken invariants.
func (r result) violations() int {
	return r.OverDialled + r.Redialled + r.LeftOpen + r.Initiated + r.Lost + r.Mismatches
}

// example keeps the first three examples of each kind.
func (r *result) example(kind, format string, args ...any) {
	if r.shown == nil {
		r.shown = map[string]int{}
	}
	if r.shown[kind]++; r.shown[kind] <= 3 {
		r.Examples = append(r.Examples, kind+": "+fmt.Sprintf(format, args...))
	}
}

func bare(number string) string { return strings.TrimPrefix(number, "+") }

// final transmission states: nothing more will happen to it.
var finalStatus = map[string]bool{"completed": true, "failed": true, "invalid": true}

// check holds the wire against the API. The invariants:
//   - over-dialled: a number got more calls on the wire than it has spools;
//   - redialled: a number got a call after one of its calls was answered;
//   - left open: a call still up at the far end;
//   - initiated: a spool still initiated;
//   - lost: a contact without exactly one transmission in a final state;
//   - counter mismatches: a campaign counter that differs from what its
//     transmissions add up to (each counter counts once), or a campaign
//     completed with transmissions still open.
func check(r *result, calls []wireCall, st apiState) {
	r.Numbers = len(st.Contacts)
	r.Calls = len(calls)
	byNumber := map[string][]wireCall{}
	for _, c := range calls {
		byNumber[c.Number] = append(byNumber[c.Number], c)
		if c.Answered {
			r.Answered++
		}
		if c.Open {
			r.LeftOpen++
			r.example("left open", "call %s to %s left open (answered %v)", c.ID, c.Number, c.Answered)
		}
	}

	phoneOf := map[int64]string{}
	for _, c := range st.Contacts {
		phoneOf[c.ID] = bare(c.Phone)
	}
	spoolsOf := map[string]int{}
	txsOf := map[int64][]e2e.Transmission{}
	var counted e2e.Counters
	for i, t := range st.Txs {
		txsOf[t.ContactID] = append(txsOf[t.ContactID], t)
		spoolsOf[phoneOf[t.ContactID]] += len(st.Spools[i])
		for _, s := range st.Spools[i] {
			if s.Status == "initiated" {
				r.Initiated++
				r.example("initiated", "spool %d (%s, %s) left initiated", s.ID, phoneOf[t.ContactID], s.CallUUID)
			}
		}
		counted.Total++
		switch t.Status {
		case "completed":
			counted.Done++
			counted.Answered++
		case "failed", "invalid":
			counted.Done++
			counted.Failed++
		case "processing":
			counted.InFlight++
		default:
			counted.Pending++
		}
	}
	for _, c := range st.Contacts {
		txs := txsOf[c.ID]
		switch {
		case len(txs) != 1:
			r.Lost++
			r.example("lost", "contact %s has %d transmissions", c.Phone, len(txs))
		case !finalStatus[txs[0].Status]:
			r.Lost++
			r.example("lost", "transmission %d (%s) is %s", txs[0].ID, c.Phone, txs[0].Status)
		}
	}

	numbers := make([]string, 0, len(byNumber))
	for n := range byNumber {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	for _, n := range numbers {
		cs := byNumber[n]
		if len(cs) > spoolsOf[n] {
			r.OverDialled++
			r.example("over-dialled", "%s called %d times, %d spools", n, len(cs), spoolsOf[n])
		}
		slices.SortFunc(cs, func(a, b wireCall) int { return a.At.Compare(b.At) })
		for i, c := range cs {
			if !c.Answered {
				continue
			}
			if later := len(cs) - i - 1; later > 0 {
				r.Redialled++
				r.example("redialled", "%s answered at %s (%s), called %d more times, next at %s", n,
					c.AnsweredAt.Format("15:04:05.000"), c.ID, later, cs[i+1].At.Format("15:04:05.000"))
			}
			break
		}
	}

	cc := st.Campaign.Counters
	for _, f := range []struct {
		name       string
		got, wants int64
	}{
		{"total", cc.Total, counted.Total}, {"done", cc.Done, counted.Done}, {"answered", cc.Answered, counted.Answered},
		{"failed", cc.Failed, counted.Failed}, {"in_flight", cc.InFlight, counted.InFlight}, {"pending", cc.Pending, counted.Pending},
	} {
		if f.got != f.wants {
			r.Mismatches++
			r.example("counters", "counter %s = %d, transmissions say %d", f.name, f.got, f.wants)
		}
	}
	if st.Campaign.Status == "completed" && counted.Done != counted.Total {
		r.Mismatches++
		r.example("counters", "campaign completed with %d of %d transmissions done", counted.Done, counted.Total)
	}
	if st.Campaign.Status != "completed" {
		r.example("campaign", "campaign %s at the check", st.Campaign.Status)
	}
}
