package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// recover hands every spool a previous run left initiated to the gateway
// that placed it, requeues transmissions left processing without one, and
// loads queued work, running campaigns and schedules. Nobody is dialled
// twice for one attempt: a live call is followed, not redialled; a call
// that is over keeps the outcome its gateway recorded, or is closed from
// what the store knew (delivered, answered, neither); a call nobody can
// tell about stays in flight until it must be over.
func (e *Engine) recover(ctx context.Context) error {
	now := e.clock.Now()
	open, err := e.store.OpenSpools(ctx)
	if err != nil {
		return fmt.Errorf("engine recovery: %w", err)
	}
	for _, o := range open {
		e.reattach(o, now)
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
	e.log.Info("engine recovered", "open_spools", len(open), "queued", e.singles.Len(), "campaigns", len(e.runs),
		"schedules", e.schedules.Len())
	return nil
}

// reattach hands a spool a previous run left open to its gateway's
// Recover, in an attempt goroutine that holds its channel as a live call
// would.
func (e *Engine) reattach(o OpenSpool, now time.Time) {
	w := o.Work
	var p *providerState
	route := Route{ProviderID: o.ProviderID, Node: o.Node, Gateway: o.Gateway}
	if o.ProviderID != 0 {
		e.providersOf(w.TenantID, now)
		if st, ok := e.caps.providers[o.ProviderID]; ok && st.routed {
			p, route = st, st.route
			route.Node = o.Node
			if o.Gateway != 0 {
				route.Gateway = o.Gateway
			}
		}
	}
	if route.Gateway == 0 && route.Node != "" {
		// Spooled before the gateway was recorded: a node means FreeSWITCH.
		route.Gateway = GatewayFreeSWITCH
	}
	if p != nil {
		p.channels++
	}
	e.caps.channels[w.TenantID]++
	it := &workItem{Work: w, index: -1}
	a := &attempt{item: it, provider: p, started: o.Spooled, spoolID: o.SpoolID, reattach: true,
		tryAllowed: w.TryAllowed, retryDelay: e.cfg.RetryDelay,
		ringing: o.Ringing, answered: o.Answered, delivered: o.Delivered, dialog: o.Dialog}
	a.att = Attempt{SpoolID: o.SpoolID, CallUUID: o.CallUUID, TransmissionID: w.TransmissionID, CampaignID: w.CampaignID,
		TenantID: w.TenantID, Program: w.Program, Phone: w.Phone, Email: w.Email, Contact: w.Contact, Provider: route,
		CallerIDNumber: CallerIDNumber(w.CallerID), RingTimeout: e.cfg.RingTimeout, MaxDuration: e.cfg.MaxDuration}
	e.inflight[w.TransmissionID] = a
	if r, ok := e.runs[w.CampaignID]; ok && w.CampaignID != 0 {
		r.inFlight++
	}
	e.recoveredN.Add(1)
	e.spawn(a)
}

// recoverCall runs in a re-attached attempt's goroutine: it asks the
// gateway that placed the call until it can tell, or until the call must
// be over (ring timeout plus maximum duration, plus a margin), and then
// reports ErrCallGone so the spool is closed from what the store knew.
func (e *Engine) recoverCall(ctx context.Context, a *attempt, att Attempt, progress func(Progress)) (Outcome, error) {
	rs := RecoverSpool{Attempt: att, Spooled: a.started, Ringing: a.ringing, Answered: a.answered,
		Delivered: a.delivered, Dialog: a.dialog}
	deadline := a.started.Add(e.cfg.RingTimeout + e.cfg.MaxDuration + time.Minute)
	warned := false
	for {
		out, err := Outcome{}, ErrCallUnknown
		if e.recov != nil {
			out, err = e.recov.Recover(ctx, rs, progress)
		}
		if !errors.Is(err, ErrCallUnknown) {
			return out, err
		}
		now := e.clock.Now()
		if !now.Before(deadline) {
			e.log.Warn("engine recovery: nobody can tell about this call and it must be over by now; closing it from what was recorded",
				"spool", a.spoolID, "call", att.CallUUID)
			return Outcome{}, ErrCallGone
		}
		if !warned {
			warned = true
			e.log.Warn("engine recovery: the gateway cannot tell whether a call exists; it stays in flight and is asked again",
				"spool", a.spoolID, "call", att.CallUUID, "gateway_flag", att.Provider.Gateway, "node", att.Provider.Node, "err", err)
		}
		if err := e.clock.Sleep(ctx, min(e.cfg.RecheckInterval, deadline.Sub(now))); err != nil {
			return Outcome{}, err
		}
	}
}

// knownVerdict closes an attempt whose call is over without a known end,
// from what the store knew: delivered is completed; answered is failed and
// never dialled again by itself (the callee was reached); neither is a
// restart, retried if tries remain.
func knownVerdict(a *attempt) Verdict {
	switch {
	case !a.delivered.IsZero():
		return Verdict{Disposition: Completed, Cause: "NORMAL_CLEARING"}
	case !a.answered.IsZero():
		return verdictOf(CauseAnsweredBeforeRestart, "")
	}
	return verdictOf(CauseRestart, "")
}

// withKnown completes a recovered outcome with what the store knew before
// the crash: progress already recorded is not lost because the gateway
// only saw the rest of the call.
func withKnown(a *attempt, out Outcome) Outcome {
	if out.Connect.IsZero() && !a.answered.IsZero() {
		out.Connect = a.answered
	}
	if !out.Delivered && !a.delivered.IsZero() {
		out.Delivered, out.Failure = true, ""
	}
	return out
}
