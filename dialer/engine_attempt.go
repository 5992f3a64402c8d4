package dialer

import (
	"context"
	"errors"
	"time"
)

// spawn runs an attempt in its own goroutine.
func (e *Engine) spawn(a *attempt) {
	e.tasks.Add(1)
	e.wg.Add(1)
	att := a.att
	go e.runAttempt(a, att)
}

// runAttempt is one attempt's goroutine: write ahead, then ask the gateway,
// then report. Everything it learns goes back to the loop.
func (e *Engine) runAttempt(a *attempt, att Attempt) {
	defer e.wg.Done()
	defer e.tasks.Add(-1)
	ctx := e.callCtx
	if !a.reattach {
		id, err := e.store.BeginAttempt(ctx, AttemptStart{TransmissionID: att.TransmissionID, TenantID: att.TenantID,
			CallUUID: att.CallUUID, ProviderID: att.Provider.ProviderID, Gateway: att.Provider.Gateway, Node: att.Provider.Node, At: a.started,
			CallerID: presentedCallerID(att)})
		if err != nil {
			e.post(func() { e.attemptNotStarted(a, err) })
			return
		}
		att.SpoolID = id
		e.post(func() { e.attemptBegun(a, id) })
	}
	if ctx.Err() != nil {
		// Stopping between the commit and the dial: nobody was called;
		// recovery closes the spool as restart.
		e.post(func() { e.attemptAbandoned(a) })
		return
	}
	progress := func(p Progress) { e.queueProgress(a, p) }
	var out Outcome
	var err error
	if a.reattach {
		out, err = e.recoverCall(ctx, a, att, progress)
	} else {
		out, err = e.gw.Deliver(ctx, att, progress)
	}
	e.post(func() { e.attemptEnded(a, out, err) })
}

func (e *Engine) attemptBegun(a *attempt, spoolID int64) {
	a.spoolID = spoolID
	e.attempts.Add(1)
	it := a.item
	e.publish(Event{Type: EventSpoolInitiated, At: a.started, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID, ProviderID: a.att.Provider.ProviderID, Node: a.att.Provider.Node,
		TransmissionID: it.TransmissionID, SpoolID: spoolID, Status: string(SpoolInitiated)})
	e.publish(Event{Type: EventTransmissionStatus, At: a.started, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, SpoolID: spoolID, Status: string(TransmissionProcessing)})
	for _, w := range e.waiters[it.TransmissionID] {
		w <- sendResult{spoolID: spoolID}
	}
	delete(e.waiters, it.TransmissionID)
	if r, ok := e.runs[it.CampaignID]; ok {
		e.publishProgress(r, a.started)
	}
}

func (e *Engine) failWaiters(id int64, err error) {
	for _, w := range e.waiters[id] {
		w <- sendResult{err: err}
	}
	delete(e.waiters, id)
}

// queueProgress hands a gateway's progress to the loop without ever
// blocking the gateway: a SIP stack calls it holding its transaction, and
// a stalled loop must not stop it from acknowledging the answer. Progress
// is queued on the attempt, in order, and one drain is posted at a time;
// the attempt's end drains what is left first, so nothing is reordered.
func (e *Engine) queueProgress(a *attempt, p Progress) {
	a.pq.mu.Lock()
	a.pq.items = append(a.pq.items, p)
	post := !a.pq.posted
	a.pq.posted = true
	a.pq.mu.Unlock()
	if post {
		e.postAsync(func() { e.drainProgress(a) })
	}
}

// drainProgress records an attempt's queued progress, on the loop.
func (e *Engine) drainProgress(a *attempt) {
	a.pq.mu.Lock()
	items := a.pq.items
	a.pq.items, a.pq.posted = nil, false
	a.pq.mu.Unlock()
	for _, p := range items {
		e.attemptProgress(a, p)
	}
}

func (e *Engine) attemptProgress(a *attempt, p Progress) {
	it := a.item
	if p.At.IsZero() {
		p.At = e.clock.Now()
	}
	ev := Event{At: p.At, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID,
		ProviderID: a.att.Provider.ProviderID, Node: a.att.Provider.Node, TransmissionID: it.TransmissionID, SpoolID: a.spoolID}
	// Progress is made durable as it happens (the writer's next group
	// commit), so a crash cannot make an answered call look unanswered.
	switch p.Kind {
	case ProgressRinging:
		if !a.ringing.IsZero() {
			return
		}
		a.ringing = p.At
		ev.Type = EventSpoolRinging
		e.store.Record(SpoolRinging{SpoolID: a.spoolID, At: p.At})
	case ProgressAnswered:
		if !a.answered.IsZero() && p.Dialog == nil {
			return
		}
		a.answered = p.At
		ev.Type = EventSpoolAnswered
		e.store.Record(SpoolAnswered{SpoolID: a.spoolID, At: p.At, Dialog: p.Dialog})
	case ProgressDelivered:
		if !a.delivered.IsZero() {
			return
		}
		a.delivered = p.At
		e.store.Record(SpoolDelivered{SpoolID: a.spoolID, At: p.At})
		return // no event of its own: spool.ended says completed
	case ProgressDTMF:
		ev.Type, ev.Digit = EventSpoolDTMF, p.Digit
	default:
		return
	}
	e.publish(ev)
}

// finish releases what an attempt held.
func (e *Engine) finish(a *attempt) *campaignRun {
	e.release(a.provider, a.item.TenantID)
	delete(e.inflight, a.item.TransmissionID)
	r, ok := e.runs[a.item.CampaignID]
	if ok && a.item.CampaignID != 0 {
		r.inFlight--
		r.counters.InFlight--
		return r
	}
	return nil
}

// attemptAbandoned: the engine is stopping; the spool stays as it is for
// recovery to reconcile.
func (e *Engine) attemptAbandoned(a *attempt) {
	e.drainProgress(a)
	e.finish(a)
	e.checkIdle()
}

// attemptNotStarted: BeginAttempt failed, so nothing was written and
// nobody dialled.
func (e *Engine) attemptNotStarted(a *attempt, err error) {
	r := e.finish(a)
	it := a.item
	it.TryDone--
	now := e.clock.Now()
	switch {
	case errors.Is(err, ErrAttemptGone):
		// Deleted or changed since it was queued: forget it.
		e.failWaiters(it.TransmissionID, Conflict("the transmission changed before its attempt started"))
		if r != nil {
			r.counters.Total--
			e.publishProgress(r, now)
		}
	case e.callCtx.Err() != nil:
		e.failWaiters(it.TransmissionID, NotReady("the engine is stopping"))
	default:
		e.log.Error("engine: could not record an attempt; trying again shortly", "transmission", it.TransmissionID, "err", err)
		e.failWaiters(it.TransmissionID, Internal(err))
		it.Due = now.Add(5 * time.Second)
		e.requeue(r, it, now)
	}
	e.checkIdle()
	if r != nil {
		e.checkCompleted(r, now)
	}
}

// requeue puts an item back in its queue after an attempt.
func (e *Engine) requeue(r *campaignRun, it *workItem, now time.Time) {
	switch {
	case it.CampaignID == 0:
		e.queueSingle(it.Work)
	case r != nil:
		r.counters.Pending++
		e.queueCampaignWork(r, it.Work, now)
	}
	// A stopped campaign's transmission waits in the store for its restart.
}

// attemptEnded records how an attempt ended and what happens next: the
// cause table decides, try_allowed bounds retries, the retry delay spaces
// them, and a provider at fault is skipped for a while.
func (e *Engine) attemptEnded(a *attempt, out Outcome, gerr error) {
	e.drainProgress(a)
	if gerr != nil && e.callCtx.Err() != nil && errors.Is(gerr, context.Canceled) {
		e.attemptAbandoned(a)
		return
	}
	if errors.Is(gerr, ErrCallUnknown) && !a.reattach && e.callCtx.Err() == nil {
		// The gateway lost sight of a call it may have placed: follow it
		// as recovery would, holding its channel, never redialling blind.
		e.log.Warn("engine: the gateway lost sight of a call; following it through recovery",
			"transmission", a.item.TransmissionID, "spool", a.spoolID, "err", gerr)
		a.reattach = true
		e.spawn(a)
		return
	}
	r := e.finish(a)
	it := a.item
	now := e.clock.Now()
	if r != nil {
		a.tryAllowed, a.retryDelay = r.c.TryAllowed, time.Duration(r.c.RetryDelay)*time.Second
	}
	var v Verdict
	refund := false
	switch {
	case a.reattach && errors.Is(gerr, ErrCallGone):
		v = knownVerdict(a)
	case gerr != nil:
		v = ClassifyError(gerr)
		refund = v.Fault == FaultRoute // the route could not try: the try does not count
		e.log.Warn("engine: gateway could not make an attempt", "transmission", it.TransmissionID,
			"fault", v.Fault.String(), "field", v.Field, "err", gerr)
	default:
		if a.reattach {
			out = withKnown(a, out)
		}
		v = Classify(out)
	}
	if a.provider != nil {
		switch v.Fault {
		case FaultRoute:
			e.providerFailed(a.provider, now)
		case FaultContent:
			// The route is not to blame; its history stays as it was.
		default:
			a.provider.healthy()
		}
	}
	if v.Fault == FaultContent && r != nil {
		e.blockContent(r, v, gerr, now)
	}
	if refund {
		it.TryDone--
	}
	status, due := TransmissionCompleted, time.Time{}
	switch v.Disposition {
	case Retry:
		status = TransmissionFailed
		if it.TryDone < a.tryAllowed {
			status, due = TransmissionPending, now.Add(a.retryDelay)
			if v.Fault == FaultRoute {
				// The next provider can take it at once, and it keeps its
				// place at the head of the queue.
				due = now
				if !it.key.IsZero() && it.key.Before(now) {
					due = it.key
				}
			}
		}
	case Final:
		status = TransmissionFailed
		if v.Invalid {
			status = TransmissionInvalid
		}
	}
	spoolStatus := SpoolFailed
	if v.Disposition == Completed {
		spoolStatus = SpoolCompleted
	}
	start, end := out.Start, out.End
	if start.IsZero() {
		start = a.started
	}
	connect := out.Connect
	if connect.IsZero() {
		connect = a.answered
	}
	if end.IsZero() {
		end = now
	}
	e.store.Record(AttemptEnded{SpoolID: a.spoolID, TransmissionID: it.TransmissionID, TenantID: it.TenantID,
		SpoolStatus: spoolStatus, Response: v.Cause, Start: start, Connect: connect, End: end, Results: out.Results,
		Status: status, Due: due, Refund: refund})
	e.chargeCall(it.TenantID, a.spoolID, connect, end)
	e.ended.Add(1)
	e.publish(Event{Type: EventSpoolEnded, At: end, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID, ProviderID: a.att.Provider.ProviderID, Node: a.att.Provider.Node,
		TransmissionID: it.TransmissionID, SpoolID: a.spoolID, Status: string(spoolStatus), Response: v.Cause, Fault: v.Fault.String(), Field: v.Field})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, SpoolID: a.spoolID, Status: string(status), Response: v.Cause})
	if status == TransmissionPending {
		it.Due = due
		e.requeue(r, it, now)
	} else if r != nil {
		r.counters.Done++
		if status == TransmissionCompleted {
			r.counters.Answered++
		} else {
			r.counters.Failed++
		}
	}
	if r != nil {
		e.publishProgress(r, now)
		e.checkCompleted(r, now)
	}
	e.checkIdle()
}
