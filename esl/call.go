package esl

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Causes the gateway reports itself, when FreeSWITCH could not tell.
const (
	// CauseConnectionLost ends an attempt whose node connection was lost
	// while the call was live, and whose end could not be observed: the
	// connection did not come back within Options.ReconnectGrace, or it
	// came back and the call was gone (FreeSWITCH does not replay the
	// events sent while nobody listened). Connect is set when the answer
	// had been seen, so an answered call still counts as answered.
	CauseConnectionLost = "ESL_CONNECTION_LOST"
	// CauseNoResult ends an attempt FreeSWITCH accepted (+OK Job-UUID) and
	// then said nothing about: no channel, no BACKGROUND_JOB, and
	// uuid_exists false after the ring timeout and Options.NoResultGrace.
	// It is Q.850 102, "recovery on timer expiry".
	CauseNoResult = "RECOVERY_ON_TIMER_EXPIRE"
)

// call collects the events of one channel (and its originate job) as
// eslgo's listener goroutines deliver them: in any order, from any
// goroutine, possibly after the call has been given up. add never blocks.
type call struct {
	uuid   string
	job    string // "" when re-attached
	mu     sync.Mutex
	events []event
	notify chan struct{} // one pending wake-up
}

func newCall(uuid, job string) *call {
	return &call{uuid: uuid, job: job, notify: make(chan struct{}, 1)}
}

func (c *call) add(e event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// sorted returns the events so far in Event-Sequence order.
func (c *call) sorted() []event {
	c.mu.Lock()
	evs := slices.Clone(c.events)
	c.mu.Unlock()
	slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.seq, b.seq) })
	return evs
}

// facts are what the events so far say about a call.
type facts struct {
	channel   bool // any channel event
	created   *event
	answer    *event
	hangup    *event
	complete  *event
	job       *event // BACKGROUND_JOB
	jobCause  string // its -ERR cause
	jobFailed bool
	dtmf      []event
}

func readFacts(evs []event) facts {
	var f facts
	for i := range evs {
		e := &evs[i]
		if e.channelEvent() {
			f.channel = true
		}
		switch e.name {
		case evCreate:
			f.created = first(f.created, e)
		case evAnswer:
			f.answer = first(f.answer, e)
		case evHangup:
			f.hangup = first(f.hangup, e)
		case evHangupComplete:
			f.complete = first(f.complete, e)
		case evDTMF:
			f.dtmf = append(f.dtmf, *e)
		case evBackgroundJob:
			if f.job == nil {
				f.job = e
				f.jobCause, f.jobFailed = e.jobFailed()
			}
		}
	}
	return f
}

func first(have, e *event) *event {
	if have != nil {
		return have
	}
	return e
}

// follower follows one call to its end: it turns the events into progress
// callbacks (in order) and, at the end, into the Outcome.
type follower struct {
	g        *Gateway
	n        *node
	c        *call
	a        dialer.Attempt
	progress func(dialer.Progress)
	sentAt   time.Time
	reattach bool
	// What the store knew of a recovered call: its answer and delivery.
	knownAnswer    time.Time
	knownDelivered bool

	conn *conn // the connection events are known to flow on

	// Progress emission.
	handled   map[uint64]bool
	ringing   bool
	answered  bool
	hungUp    bool // a CHANNEL_HANGUP was emitted past
	delivered bool // ProgressDelivered reported

	terminalAt  time.Time // a terminal condition was first seen
	jobErrAt    time.Time // a -ERR job result arrived while the channel lives
	lostAt      time.Time // the node connection went away
	gone        bool      // uuid_exists said false after a reconnect
	nextProbe   time.Time // the next uuid_exists for a silent call
	killedAt    time.Time // uuid_kill for MaxDuration sent
	hardKillAt  time.Time // uuid_kill at the hard deadline sent
	hardLimit   time.Time
	answeredRcv time.Time // when the answer arrived (gateway's clock)
	// answerGuessed: answeredRcv is the latest a recovered call can have
	// been answered, its real answer being unrecorded.
	answerGuessed bool
	retryAt       time.Time // the next uuid_exists after a failed one

	optOut optOutState // the opt-out key (optout.go)
	amd    amdState    // on_machine (amd.go)
}

// probeRetry spaces uuid_exists attempts on a connection that fails them
// (it is being torn down; the node reconnects).
const probeRetry = 50 * time.Millisecond

func (f *follower) emit(evs []event, now time.Time, final bool) {
	report := func(p dialer.Progress) {
		if f.progress != nil {
			f.progress(p)
		}
	}
	for _, e := range evs {
		if f.handled[e.seq] {
			continue
		}
		// Hold each event for the reorder window so that a straggler
		// with a lower sequence number can overtake it.
		if !final && now.Before(e.received.Add(f.g.opts.Reorder)) {
			return
		}
		f.handled[e.seq] = true
		at := e.at
		if at.IsZero() {
			at = e.received
		}
		switch e.name {
		case evProgress, evProgressMedia:
			if !f.ringing && !f.answered {
				f.ringing = true
				report(dialer.Progress{Kind: dialer.ProgressRinging, At: at})
			}
		case evAnswer:
			if !f.answered {
				f.answered = true
				report(dialer.Progress{Kind: dialer.ProgressAnswered, At: at})
			}
		case evDTMF:
			report(dialer.Progress{Kind: dialer.ProgressDTMF, At: at, Digit: e.digit})
		case evHangup:
			f.hungUp = true
		}
		if !f.delivered && (f.answered || !f.knownAnswer.IsZero()) && deliveredEvent(f.a, e, f.hungUp) {
			f.delivered = true
			report(dialer.Progress{Kind: dialer.ProgressDelivered, At: at})
		}
	}
}

// run follows the call until it ends, ctx is done or a safety limit is
// reached.
func (f *follower) run(ctx context.Context) (dialer.Outcome, error) {
	opts := &f.g.opts
	f.handled = map[uint64]bool{}
	ring := cmp.Or(f.a.RingTimeout, defaultRingTimeout)
	maxDur := cmp.Or(f.a.MaxDuration, opts.UnlimitedCallCap)
	f.hardLimit = f.sentAt.Add(ring + maxDur + opts.HardMargin)
	f.nextProbe = f.sentAt.Add(ring + opts.NoResultGrace)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		evs := f.c.sorted()
		fs := readFacts(evs)
		f.emit(evs, now, false)
		if fs.answer != nil && (f.answeredRcv.IsZero() || f.answerGuessed) {
			f.answeredRcv, f.answerGuessed = fs.answer.received, false
		}

		// The node's connection: lost, back, or the same.
		cur, changed := f.n.connState()
		if digit, ok := f.pendingOptOut(fs); ok {
			f.doOptOut(ctx, cur, digit, fs)
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			continue // re-read: events came meanwhile
		}
		if f.machineStep(ctx, cur, evs, fs, now) {
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			continue
		}
		switch {
		case cur == nil && f.lostAt.IsZero():
			f.lostAt = now
		case cur != nil && cur != f.conn && !now.Before(f.retryAt):
			// A new connection: events sent meanwhile are lost. Ask
			// whether the call still exists before trusting silence.
			out, err := cur.api(ctx, "uuid_exists "+f.c.uuid)
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			if err != nil {
				f.retryAt = time.Now().Add(probeRetry)
			} else {
				f.conn, f.lostAt = cur, time.Time{}
				if out != "true" {
					f.gone = true
					// It ended while nobody listened: its record says how.
					if r, ok, err := readRecord(ctx, cur, f.c.uuid); err == nil && ok {
						e := r.event(f.c.uuid, time.Now())
						e.seq = math.MaxUint64 // after every event that was seen
						f.c.add(e)
					}
				}
			}
			continue // re-read: the probe took time and events may have come
		}

		// Terminal conditions, settled: stragglers may still be on their way.
		terminal := false
		switch {
		case fs.complete != nil, f.gone:
			terminal = true
		case fs.jobFailed && !fs.channel && !f.reattach:
			terminal = true // refused before any channel existed
		case fs.jobFailed:
			// The originate failed while the channel lives on until its
			// HANGUP_COMPLETE (noanswer.txt): wait for it, within reason.
			if f.jobErrAt.IsZero() {
				f.jobErrAt = now
			}
			terminal = !now.Before(f.jobErrAt.Add(opts.ChannelGrace))
		}
		if !terminal {
			f.terminalAt = time.Time{}
		} else if f.terminalAt.IsZero() {
			f.terminalAt = now
		}
		if terminal && !now.Before(f.terminalAt.Add(opts.Settle)) {
			return f.finish(f.c.sorted(), "")
		}

		// Safety limits.
		if !f.lostAt.IsZero() && !now.Before(f.lostAt.Add(opts.ReconnectGrace)) {
			// The node may still have the call (or its record): nobody can
			// tell now. The engine keeps the spool in flight and asks
			// Recover again once the node is back, never redialling blind.
			f.emit(evs, now, true)
			return dialer.Outcome{}, fmt.Errorf("esl: node %s: connection lost for %s with call %s: %w",
				f.n.id, opts.ReconnectGrace, f.c.uuid, dialer.ErrCallUnknown)
		}
		if cur != nil && fs.job == nil && !fs.channel && !f.reattach && !now.Before(f.nextProbe) {
			out, err := cur.api(ctx, "uuid_exists "+f.c.uuid)
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			if err == nil && out != "true" {
				return f.finish(f.c.sorted(), CauseNoResult)
			}
			f.nextProbe = now.Add(opts.NoResultGrace)
			continue
		}
		if f.a.MaxDuration > 0 && !f.answeredRcv.IsZero() && f.killedAt.IsZero() && fs.complete == nil &&
			!now.Before(f.answeredRcv.Add(f.a.MaxDuration)) && cur != nil {
			f.killedAt = now
			f.kill(ctx, cur, "ALLOTTED_TIMEOUT")
			continue
		}
		if !now.Before(f.hardLimit) {
			if f.hardKillAt.IsZero() {
				f.hardKillAt = now
				if cur != nil {
					f.kill(ctx, cur, "MANAGER_REQUEST")
				}
				continue
			}
			if !now.Before(f.hardKillAt.Add(opts.ChannelGrace)) {
				return f.finish(f.c.sorted(), CauseNoResult)
			}
		}

		// Sleep until the next thing to do.
		wake := f.hardLimit
		soon := func(t time.Time) {
			if !t.IsZero() && t.Before(wake) {
				wake = t
			}
		}
		for _, e := range evs {
			if !f.handled[e.seq] {
				soon(e.received.Add(opts.Reorder))
				break
			}
		}
		if terminal {
			soon(f.terminalAt.Add(opts.Settle))
		}
		if !f.jobErrAt.IsZero() {
			soon(f.jobErrAt.Add(opts.ChannelGrace))
		}
		if !f.lostAt.IsZero() {
			soon(f.lostAt.Add(opts.ReconnectGrace))
		}
		if fs.job == nil && !fs.channel && !f.reattach {
			soon(f.nextProbe)
		}
		if f.a.MaxDuration > 0 && !f.answeredRcv.IsZero() && f.killedAt.IsZero() {
			soon(f.answeredRcv.Add(f.a.MaxDuration))
		}
		if !f.hardKillAt.IsZero() {
			soon(f.hardKillAt.Add(opts.ChannelGrace))
		}
		soon(f.machineWake())
		if cur != nil && cur != f.conn {
			soon(f.retryAt)
		}
		timer.Reset(max(time.Until(wake), 0))
		select {
		case <-f.c.notify:
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			return dialer.Outcome{}, ctx.Err()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// kill hangs the channel up; the call then ends through its events.
func (f *follower) kill(ctx context.Context, cur *conn, cause string) {
	out, err := cur.api(ctx, "uuid_kill "+f.c.uuid+" "+cause)
	if err != nil {
		f.g.log.Warn("esl: uuid_kill failed", "node", f.n.id, "uuid", f.c.uuid, "err", err)
	} else if out != "+OK" {
		f.g.log.Debug("esl: uuid_kill", "node", f.n.id, "uuid", f.c.uuid, "reply", out)
	}
}

// finish emits what progress is left and builds the outcome. fallback is
// the cause when FreeSWITCH gave none. A call that never had a channel
// (FreeSWITCH refused the originate: sessions-per-second, max-sessions,
// shutting down; or the connection was lost before anything came back)
// is the route's fault, returned as an error: no try is spent on it.
func (f *follower) finish(evs []event, fallback string) (dialer.Outcome, error) {
	f.emit(evs, time.Now(), true)
	fs := readFacts(evs)
	if !f.reattach && !fs.channel && (fs.job == nil || fs.jobFailed) {
		cause := cmp.Or(fallback, CauseConnectionLost)
		if fs.jobFailed {
			cause = cmp.Or(fs.jobCause, dialer.CauseGatewayError)
		}
		return dialer.Outcome{}, dialer.RouteFault(cause, fmt.Errorf("esl: node %s: no channel for the originate (%s)", f.n.id, cause))
	}
	var o dialer.Outcome
	last := fs.complete
	if last == nil {
		last = fs.hangup
	}

	switch {
	case fs.created != nil && !fs.created.at.IsZero():
		o.Start = fs.created.at
	case last != nil && !last.startAt.IsZero():
		o.Start = last.startAt
	case !f.reattach:
		o.Start = f.sentAt
	}
	switch {
	case fs.answer != nil:
		o.Connect = fs.answer.at
	case last != nil && !last.answerAt.IsZero():
		o.Connect = last.answerAt
	}
	switch {
	case fs.hangup != nil && !fs.hangup.at.IsZero():
		o.End = fs.hangup.at
	case last != nil && !last.endAt.IsZero():
		o.End = last.endAt
	case last != nil && !last.at.IsZero():
		o.End = last.at
	case fs.job != nil && !fs.job.at.IsZero() && fs.jobFailed:
		o.End = fs.job.at
	default:
		o.End = time.Now()
	}
	if o.Connect.IsZero() && !f.knownAnswer.IsZero() {
		o.Connect = f.knownAnswer // the store saw the answer before a restart
	}
	if o.Connect.IsZero() && (f.answered || (fs.job != nil && !fs.jobFailed)) {
		o.Connect = o.End // answered (progress or the +OK job said so) but its time is lost
	}
	var d delivery
	if !o.Connect.IsZero() {
		d = readDelivery(f.a, evs)
		if f.knownDelivered {
			d.delivered, d.failure = true, ""
		}
		o.Delivered, o.Failure = d.delivered, d.failure
	}

	switch {
	case fs.complete != nil && fs.complete.cause != "":
		o.Cause = fs.complete.cause
	case fs.hangup != nil && fs.hangup.cause != "":
		o.Cause = fs.hangup.cause
	case fallback != "":
		o.Cause = fallback
	case fs.jobFailed && fs.jobCause != "":
		o.Cause = fs.jobCause
	default:
		o.Cause = CauseConnectionLost
	}
	if fs.complete != nil {
		o.SIPCode = fs.complete.sipStatus
		o.Billsec = fs.complete.billsec
	} else if fs.hangup != nil {
		o.SIPCode = fs.hangup.sipStatus
	}

	for _, d := range fs.dtmf {
		o.Results = append(o.Results, dialer.Result{Type: "dtmf", Name: "digit", Data: d.digit})
	}
	o.Results = append(o.Results, dialer.Result{Type: "hangup", Name: "cause", Data: o.Cause})
	if fs.complete != nil && fs.complete.hasBill {
		o.Results = append(o.Results, dialer.Result{Type: "hangup", Name: "billsec", Data: strconv.Itoa(o.Billsec)})
	}
	if o.SIPCode != 0 {
		o.Results = append(o.Results, dialer.Result{Type: "sip", Name: "term_status", Data: strconv.Itoa(o.SIPCode)})
	}
	o.Results = append(o.Results, d.results...)
	f.machineOutcome(&o, evs)
	f.optOutOutcome(&o)
	return o, nil
}
