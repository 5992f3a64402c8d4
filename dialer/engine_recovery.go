package dialer

import (
	"context"
	"fmt"
	"time"
)

// orphan is a spool left initiated whose call the gateway could not tell
// about (or cannot re-attach): its transmission stays processing, and the
// gateway is asked again every RecheckInterval until the call is gone.
type orphan struct {
	spool    OpenSpool
	next     time.Time
	checking bool
}

// recover reconciles the spools a previous run left initiated, requeues
// transmissions left processing without one, and loads queued work,
// running campaigns and schedules. Nobody is dialled twice for one
// attempt: a live call is followed, not redialled; only a call the gateway
// no longer has is closed (response "restart") and retried if tries remain.
func (e *Engine) recover(ctx context.Context) error {
	now := e.clock.Now()
	open, err := e.store.OpenSpools(ctx)
	if err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	for _, o := range open {
		e.reconcile(ctx, o, now)
	}
	if n, err := e.store.RequeueOrphans(ctx, now); err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	} else if n > 0 {
		e.log.Warn("engine recovery: transmissions left processing without an attempt requeued", "count", n)
	}
	if err := e.store.Sync(ctx); err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	scheds, err := e.store.PendingSchedules(ctx)
	if err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	for _, s := range scheds {
		// A transmission's schedule lives on as its due time, loaded below.
		if s.Action == ScheduleCampaignStart || s.Action == ScheduleCampaignStop {
			e.schedules.push(s)
		}
	}
	singles, err := e.store.QueuedWork(ctx)
	if err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	for _, w := range singles {
		if _, busy := e.inflight[w.TransmissionID]; !busy {
			e.queueSingle(w)
		}
	}
	campaigns, err := e.store.ActiveCampaigns(ctx)
	if err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	for _, c := range campaigns {
		full, err := e.store.Campaign(ctx, c.TenantID, c.ID)
		if err != nil {
			return fmt.Errorf("engine recovery: %w", err)
		}
		if _, err := e.loadRun(full, now); err != nil {
			return fmt.Errorf("engine recovery: %w", err)
		}
	}
	e.log.Info("engine recovered", "open_spools", len(open), "reattached", len(e.inflight), "unknown", len(e.orphans),
		"queued", e.singles.Len(), "campaigns", len(e.runs), "schedules", e.schedules.Len())
	return nil
}

// reconcile decides about one spool left initiated.
func (e *Engine) reconcile(ctx context.Context, o OpenSpool, now time.Time) {
	if e.checker == nil {
		e.orphans[o.SpoolID] = &orphan{spool: o, next: now.Add(e.cfg.RecheckInterval)}
		return
	}
	exists, err := e.checker.CallExists(ctx, o.Node, o.CallUUID)
	e.reconciled(o, exists, err, now)
}

// reconciled acts on the gateway's answer about an open spool. It runs
// during recovery, or on the loop for a recheck.
func (e *Engine) reconciled(o OpenSpool, exists bool, err error, now time.Time) {
	switch {
	case err != nil:
		e.log.Warn("engine recovery: the gateway cannot tell whether a call exists; asking again later",
			"spool", o.SpoolID, "call", o.CallUUID, "err", err)
		e.orphans[o.SpoolID] = &orphan{spool: o, next: now.Add(e.cfg.RecheckInterval)}
	case !exists:
		delete(e.orphans, o.SpoolID)
		e.closeRestart(o, now)
	case e.reatt != nil:
		delete(e.orphans, o.SpoolID)
		e.reattach(o, now)
	default:
		// Live, but this gateway cannot follow it: wait it out.
		e.orphans[o.SpoolID] = &orphan{spool: o, next: now.Add(e.cfg.RecheckInterval)}
	}
}

// closeRestart closes a spool whose call is gone without a known outcome.
// The try counts; the transmission is retried at once if tries remain.
func (e *Engine) closeRestart(o OpenSpool, now time.Time) {
	w := o.Work
	status, due := TransmissionFailed, time.Time{}
	if w.TryDone < w.TryAllowed {
		status, due = TransmissionPending, now
	}
	e.store.Record(AttemptEnded{SpoolID: o.SpoolID, TransmissionID: w.TransmissionID, TenantID: w.TenantID,
		SpoolStatus: SpoolFailed, Response: CauseRestart, Start: o.Spooled, End: now, Status: status, Due: due})
	e.publish(Event{Type: EventSpoolEnded, At: now, TenantID: w.TenantID, CampaignID: w.CampaignID,
		TransmissionID: w.TransmissionID, SpoolID: o.SpoolID, Status: string(SpoolFailed), Response: CauseRestart})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: w.TenantID, CampaignID: w.CampaignID,
		TransmissionID: w.TransmissionID, SpoolID: o.SpoolID, Status: string(status), Response: CauseRestart})
	if !e.loopRunning() {
		return // recovery loads the requeued work afterwards
	}
	r := e.runs[w.CampaignID]
	if r != nil && w.CampaignID != 0 {
		r.counters.InFlight--
	}
	if status == TransmissionPending {
		w.Due = due
		e.requeue(r, &workItem{Work: w, index: -1}, now)
	} else if r != nil {
		r.counters.Done++
		r.counters.Failed++
	}
	if r != nil {
		e.publishProgress(r, now)
	}
}

// loopRunning is false during recovery, before the loop starts.
func (e *Engine) loopRunning() bool { return e.recovered }

// reattach follows a live call a previous run started.
func (e *Engine) reattach(o OpenSpool, now time.Time) {
	w := o.Work
	var p *providerState
	route := Route{ProviderID: o.ProviderID, Node: o.Node}
	if o.ProviderID != 0 {
		e.providersOf(w.TenantID, now)
		if st, ok := e.caps.providers[o.ProviderID]; ok && st.routed {
			p, route = st, st.route
			route.Node = o.Node
		}
	}
	if p != nil {
		p.channels++
	}
	e.caps.channels[w.TenantID]++
	it := &workItem{Work: w, index: -1}
	a := &attempt{item: it, provider: p, started: o.Spooled, spoolID: o.SpoolID, reattach: true,
		tryAllowed: w.TryAllowed, retryDelay: e.cfg.RetryDelay}
	a.att = Attempt{SpoolID: o.SpoolID, CallUUID: o.CallUUID, TransmissionID: w.TransmissionID, CampaignID: w.CampaignID,
		TenantID: w.TenantID, Program: w.Program, Phone: w.Phone, Email: w.Email, Provider: route,
		RingTimeout: e.cfg.RingTimeout, MaxDuration: e.cfg.MaxDuration}
	e.inflight[w.TransmissionID] = a
	if r, ok := e.runs[w.CampaignID]; ok && w.CampaignID != 0 {
		r.inFlight++
	}
	e.spawn(a)
}

// recheckOrphans asks the gateway again about spools of unknown state.
func (e *Engine) recheckOrphans(now time.Time, consider func(time.Time)) {
	if e.checker == nil {
		return
	}
	for _, o := range e.orphans {
		if o.checking {
			continue
		}
		if o.next.After(now) {
			consider(o.next)
			continue
		}
		o.checking = true
		spool := o.spool
		e.tasks.Add(1)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.tasks.Add(-1)
			exists, err := e.checker.CallExists(e.callCtx, spool.Node, spool.CallUUID)
			e.post(func() {
				if o, ok := e.orphans[spool.SpoolID]; ok {
					o.checking = false
				}
				if e.callCtx.Err() != nil {
					return
				}
				e.reconciled(spool, exists, err, e.clock.Now())
			})
		}()
	}
}
