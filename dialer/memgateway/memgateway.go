// Package memgateway is an in-memory dialer.Gateway for tests, benchmarks
// and trying the daemon without a PBX. Each number follows a script
// (answer, ring out, busy, fail with a cause, gateway error, hang, stall);
// calls live on the gateway's clock, so they go on existing when the
// engine that placed them stops, as they would on FreeSWITCH, and a new
// engine can ask about them and follow them (Recover).
// Every Deliver is recorded with its times and route, so tests can check
// pacing and caps on the gateway's own timeline.
package memgateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Kind is what a scripted call does.
type Kind int

const (
	// Answer rings for Ring, is answered, reports DTMF, and hangs up after Talk.
	Answer Kind = iota
	// RingOut rings for Ring (the attempt's ring timeout when 0) and ends NO_ANSWER.
	RingOut
	// Busy rings for Ring and ends USER_BUSY (SIP 486).
	Busy
	// Fail rings for Ring and ends with Cause and SIPCode.
	Fail
	// GatewayError refuses the attempt at once: Deliver returns an error.
	GatewayError
	// Hang rings forever: Deliver returns only when its ctx is done.
	Hang
	// Stall never places the call: Deliver waits for ctx without the call
	// ever existing, as when a daemon dies between its commit and the dial.
	Stall
)

// Script is how one call behaves.
type Script struct {
	Kind    Kind
	Ring    time.Duration
	Talk    time.Duration
	Cause   string
	SIPCode int
	// DTMF digits are reported one per DTMFGap after the answer.
	DTMF    string
	DTMFGap time.Duration
	// Failure makes an answered call undelivered, with this cause
	// (dialer.CauseMediaError, …); empty: the message got through.
	Failure string
	// Err is what GatewayError returns instead of ErrGateway (a
	// dialer.RouteFault or ContentFault, say).
	Err error
}

// forever is how long Hang and Stall wait: until their ctx is done.
const forever = 100 * 365 * 24 * time.Hour

// ErrGateway is what GatewayError scripts return.
var ErrGateway = errors.New("memgateway: gateway error")

// Record is one Deliver call, with the times on the gateway's clock.
type Record struct {
	CallUUID       string
	Phone          string
	TenantID       string
	CampaignID     int64
	TransmissionID int64
	SpoolID        int64
	ProviderID     int64
	Node           string
	CallerIDNumber string // what the attempt presented
	Start          time.Time
	End            time.Time // when the call ends (or ended), per its script
	Kind           Kind
	Answered       bool
}

// Gateway is the in-memory gateway.
type Gateway struct {
	clock   dialer.Clock
	instant bool

	mu       sync.Mutex
	def      Script
	scripts  map[string][]Script // by phone: one per attempt, the last repeats
	byRoute  map[int64]Script    // by provider: wins over the number's script
	attempts map[string]int
	calls    map[string]*call // live calls by UUID
	records  []Record
	keep     bool
	deliver  int
	maxLive  int

	ended       map[string]*call // calls reaped without anyone following them
	unknown     bool
	keepRecords bool
	recovers    int
}

type call struct {
	uuid   string
	start  time.Time
	answer time.Time // zero: never answered
	end    time.Time // zero: never ends on its own (Hang)
	script Script
	att    dialer.Attempt
	// optedOut: the callee pressed the attempt's opt-out digit and
	// Attempt.OptOut made it durable.
	optedOut bool
}

// New returns a gateway on clock whose calls follow def unless scripted.
func New(clock dialer.Clock, def Script) *Gateway {
	return &Gateway{clock: clock, def: def, scripts: map[string][]Script{}, attempts: map[string]int{},
		calls: map[string]*call{}, byRoute: map[int64]Script{}, keep: true}
}

// NewInstant returns a gateway for benchmarks: every call is answered and
// over the moment it starts, and only counts are kept.
func NewInstant(clock dialer.Clock) *Gateway {
	g := New(clock, Script{Kind: Answer})
	g.instant, g.keep = true, false
	return g
}

// Script sets the scripts of a number: the first attempt follows the
// first, and so on; the last one repeats.
func (g *Gateway) Script(phone string, s ...Script) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scripts[phone] = s
}

// ScriptProvider makes every call through a provider follow s, whatever
// the number: a failing trunk.
func (g *Gateway) ScriptProvider(providerID int64, s Script) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byRoute[providerID] = s
}

// UnscriptProvider ends ScriptProvider.
func (g *Gateway) UnscriptProvider(providerID int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byRoute, providerID)
}

// Records returns a copy of every Deliver so far.
func (g *Gateway) Records() []Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Record, len(g.records))
	copy(out, g.records)
	return out
}

// Delivered counts the Deliver calls.
func (g *Gateway) Delivered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deliver
}

// MaxConcurrent is the most calls that were live at once, seen at each Deliver.
func (g *Gateway) MaxConcurrent() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxLive
}

// Live counts the calls that exist now.
func (g *Gateway) Live() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reap(g.clock.Now())
	return len(g.calls)
}

// reap forgets calls that have ended. Called with mu held.
func (g *Gateway) reap(now time.Time) {
	for id, c := range g.calls {
		if !c.end.IsZero() && !now.Before(c.end) {
			delete(g.calls, id)
			if g.ended == nil {
				g.ended = map[string]*call{}
			}
			g.ended[id] = c
		}
	}
}

func (g *Gateway) next(phone string) Script {
	s, ok := g.scripts[phone]
	if !ok || len(s) == 0 {
		return g.def
	}
	n := g.attempts[phone]
	g.attempts[phone] = n + 1
	return s[min(n, len(s)-1)]
}

// Deliver implements dialer.Gateway.
func (g *Gateway) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	now := g.clock.Now()
	g.mu.Lock()
	g.deliver++
	if g.instant {
		g.mu.Unlock()
		return dialer.Outcome{Cause: "NORMAL_CLEARING", Start: now, Connect: now, End: now, Delivered: true}, nil
	}
	s := g.next(a.Phone)
	if rs, ok := g.byRoute[a.Provider.ProviderID]; ok {
		s = rs
	}
	c := &call{uuid: a.CallUUID, start: now, script: s, att: a}
	ring := s.Ring
	switch s.Kind {
	case Answer:
		c.answer = now.Add(ring)
		c.end = c.answer.Add(s.Talk)
	case RingOut:
		if ring <= 0 {
			ring = a.RingTimeout
		}
		c.end = now.Add(ring)
	case Busy, Fail:
		c.end = now.Add(ring)
	case GatewayError:
		c.end = now
	}
	rec := Record{CallUUID: a.CallUUID, CallerIDNumber: a.CallerIDNumber, Phone: a.Phone, TenantID: a.TenantID, CampaignID: a.CampaignID,
		TransmissionID: a.TransmissionID, SpoolID: a.SpoolID, ProviderID: a.Provider.ProviderID, Node: a.Provider.Node,
		Start: now, End: c.end, Kind: s.Kind, Answered: !c.answer.IsZero()}
	if s.Kind == Hang || s.Kind == Stall {
		rec.End = time.Time{}
	}
	if g.keep {
		g.records = append(g.records, rec)
	}
	if s.Kind == GatewayError {
		g.mu.Unlock()
		if s.Err != nil {
			return dialer.Outcome{}, s.Err
		}
		return dialer.Outcome{}, ErrGateway
	}
	if s.Kind == Stall {
		g.mu.Unlock()
		err := g.clock.Sleep(ctx, forever)
		if err == nil {
			err = errors.New("memgateway: stalled call woke")
		}
		return dialer.Outcome{}, err
	}
	g.reap(now)
	g.calls[c.uuid] = c
	g.maxLive = max(g.maxLive, len(g.calls))
	g.mu.Unlock()
	return g.follow(ctx, c, now, progress)
}

// follow reports a call's steps from `from` on and returns its outcome
// when it ends; when ctx is done first it stops following (the call goes
// on) and returns ctx's error.
func (g *Gateway) follow(ctx context.Context, c *call, from time.Time, progress func(dialer.Progress)) (dialer.Outcome, error) {
	type step struct {
		at time.Time
		p  dialer.Progress
	}
	var steps []step
	steps = append(steps, step{c.start, dialer.Progress{Kind: dialer.ProgressRinging}})
	if !c.answer.IsZero() {
		steps = append(steps, step{c.answer, dialer.Progress{Kind: dialer.ProgressAnswered}})
		gap := c.script.DTMFGap
		if gap <= 0 {
			gap = time.Second
		}
		for i, d := range c.script.DTMF {
			at := c.answer.Add(time.Duration(i+1) * gap)
			if at.After(c.end) {
				break
			}
			steps = append(steps, step{at, dialer.Progress{Kind: dialer.ProgressDTMF, Digit: string(d)}})
		}
		if !c.end.IsZero() && c.script.Failure == "" {
			steps = append(steps, step{c.end, dialer.Progress{Kind: dialer.ProgressDelivered}})
		}
	}
	for _, st := range steps {
		if st.at.Before(from) {
			continue // a re-attach reports only what comes next
		}
		if err := g.sleepUntil(ctx, st.at); err != nil {
			return dialer.Outcome{}, err
		}
		st.p.At = st.at
		progress(st.p)
		if st.p.Kind == dialer.ProgressDTMF && c.att.OptOut != nil && st.p.Digit == c.att.Media.OptOutDigit && !c.optedOut {
			// As a real gateway does: durable before anything more plays.
			if err := c.att.OptOut(ctx, st.p.Digit); err != nil {
				return dialer.Outcome{}, err
			}
			c.optedOut = true
		}
	}
	if c.end.IsZero() { // Hang
		err := g.clock.Sleep(ctx, forever)
		if err == nil {
			err = errors.New("memgateway: hung call woke")
		}
		return dialer.Outcome{}, err
	}
	if err := g.sleepUntil(ctx, c.end); err != nil {
		return dialer.Outcome{}, err
	}
	g.mu.Lock()
	delete(g.calls, c.uuid)
	g.mu.Unlock()
	return g.outcome(c), nil
}

func (g *Gateway) sleepUntil(ctx context.Context, at time.Time) error {
	if d := at.Sub(g.clock.Now()); d > 0 {
		return g.clock.Sleep(ctx, d)
	}
	return ctx.Err()
}

func (g *Gateway) outcome(c *call) dialer.Outcome {
	o := dialer.Outcome{Start: c.start, End: c.end, Connect: c.answer, OptedOut: c.optedOut}
	switch c.script.Kind {
	case Answer:
		o.Cause = "NORMAL_CLEARING"
		o.Delivered = c.script.Failure == ""
		o.Failure = c.script.Failure
		o.Billsec = int(c.end.Sub(c.answer) / time.Second)
		var digits string
		for i, d := range c.script.DTMF {
			gap := c.script.DTMFGap
			if gap <= 0 {
				gap = time.Second
			}
			if c.answer.Add(time.Duration(i+1) * gap).After(c.end) {
				break
			}
			digits += string(d)
		}
		if digits != "" {
			o.Results = []dialer.Result{{Type: "dtmf", Name: "digits", Data: digits}}
		}
	case RingOut:
		o.Cause, o.SIPCode = "NO_ANSWER", 480
	case Busy:
		o.Cause, o.SIPCode = "USER_BUSY", 486
	case Fail:
		o.Cause, o.SIPCode = c.script.Cause, c.script.SIPCode
	}
	return o
}

// CallExists says whether a call exists: from its
// Deliver until its scripted end, whoever follows it.
func (g *Gateway) CallExists(_ context.Context, _, callUUID string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reap(g.clock.Now())
	_, ok := g.calls[callUUID]
	return ok, nil
}

// Recover implements dialer.Recoverer: a live call is followed to its
// end; an ended one is ErrCallGone, unless records are kept (as the
// FreeSWITCH gateway keeps them in mod_hash), when its outcome is returned.
// While SetUnknown is on, it cannot tell (dialer.ErrCallUnknown).
func (g *Gateway) Recover(ctx context.Context, s dialer.RecoverSpool, progress func(dialer.Progress)) (dialer.Outcome, error) {
	now := g.clock.Now()
	g.mu.Lock()
	g.recovers++
	if g.unknown {
		g.mu.Unlock()
		return dialer.Outcome{}, dialer.ErrCallUnknown
	}
	g.reap(now)
	c, ok := g.calls[s.Attempt.CallUUID]
	rec, kept := g.ended[s.Attempt.CallUUID]
	g.mu.Unlock()
	switch {
	case ok:
		return g.follow(ctx, c, now, progress)
	case kept && g.keepRecords:
		return g.outcome(rec), nil
	}
	return dialer.Outcome{}, dialer.ErrCallGone
}

// SetUnknown makes Recover answer that it cannot tell (a node down).
func (g *Gateway) SetUnknown(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unknown = on
}

// KeepRecords makes Recover return the outcome of a call that ended while
// nobody followed it.
func (g *Gateway) KeepRecords(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keepRecords = on
}

// Recovers is how many times Recover was asked.
func (g *Gateway) Recovers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.recovers
}
