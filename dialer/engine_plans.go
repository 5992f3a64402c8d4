package dialer

import (
	"context"
	"fmt"
	"math"
	"time"
)

// The engine's side of a tenant's plan (the crossbar services): the
// plan's channel cap next to the engine's own, each campaign's CPM capped
// at the plan's, and prepaid credit. A prepaid tenant's answered seconds
// are debited at its plan's rate as each call ends; at zero credit no new
// attempt starts and its running campaigns are blocked "no credit" until a
// topup (ServicesChanged) lets them go on at once. The credit an attempt
// needs is the balance less what the tenant's answered calls in flight
// have spent so far (spentInFlight), so calls that are still talking
// cannot let more start. Calls in flight when the credit runs out finish
// and are debited in full, as usage like any call: the balance ends below
// zero by exactly their overrun, never a call cut short, and the overrun
// is bounded by what was in flight (at most the plan's channels, each at
// most engine.max_duration).

// TenantPlan is what a tenant's services allow the engine.
type TenantPlan struct {
	Limits PlanLimits
	// SecondRate is the dollars debited per answered second (the plan's
	// call_seconds.answered rate, overrides applied).
	SecondRate float64
	// Credit is the prepaid ledger's balance, in micro-dollars.
	Credit int64
	// MonthSeconds are the answered call seconds of this calendar month
	// (UTC), for Limits.MonthlyCallSeconds.
	MonthSeconds int64
}

// PlanSource gives the engine each tenant's plan and records its debits.
// The engine works without one (EngineDeps.Plans nil): no plan limits.
type PlanSource interface {
	// TenantPlan reads a tenant's plan; MonthSeconds count the month of now.
	TenantPlan(ctx context.Context, tenantID string, now time.Time) (TenantPlan, error)
	// DebitCall debits a spool's answered seconds, once per spool.
	DebitCall(ctx context.Context, tenantID string, spoolID, seconds, micros int64, at time.Time) (Ledger, error)
}

// EventCampaignCapped says a campaign runs below its CPM because of the
// tenant's plan (Response says by how much); EventCampaignUncapped that it
// runs at its own again.
const (
	EventCampaignCapped   = "campaign.capped"
	EventCampaignUncapped = "campaign.uncapped"
)

// BlockedNoCredit is the reason of a campaign blocked by a prepaid
// tenant's empty ledger.
const BlockedNoCredit = "no credit"

// planState is a tenant's plan as the loop knows it.
type planState struct {
	plan     TenantPlan
	loadedAt time.Time
	loaded   bool
	// pending is what was debited here and may not be durable yet. While
	// it is not zero a read of the ledger cannot tell which debits it
	// holds: the credit known here is kept, and the ledger read again
	// (stale) once every debit is in.
	pending int64
	stale   bool
	// month is the month MonthSeconds counts (a new month starts at 0).
	month time.Month
}

// planOf is the tenant's plan, read at first use and again every
// ProviderRefresh (a topup or plan change reads it at once); nil without
// a PlanSource. A failed read keeps what was known (nothing at first: no
// limits), and is logged.
func (e *Engine) planOf(tenantID string, now time.Time) *planState {
	if e.plansrc == nil {
		return nil
	}
	if e.plans == nil {
		e.plans = map[string]*planState{}
	}
	ps, ok := e.plans[tenantID]
	if !ok {
		ps = &planState{}
		e.plans[tenantID] = ps
	}
	if !ps.loaded || now.Sub(ps.loadedAt) >= e.cfg.ProviderRefresh {
		e.readPlan(tenantID, ps, now)
	}
	return ps
}

func (e *Engine) readPlan(tenantID string, ps *planState, now time.Time) {
	// The month's seconds are counted from the spools: the ends recorded
	// so far must be in them, or they would be lost (or, counted here
	// again, twice).
	if err := e.store.Sync(e.loopCtx); err != nil {
		e.log.Error("engine: a recorded change failed", "err", err)
	}
	p, err := e.plansrc.TenantPlan(e.loopCtx, tenantID, now)
	ps.loadedAt, ps.loaded = now, true
	if err != nil {
		e.log.Error("engine: reading the tenant's plan; keeping the last one", "tenant", tenantID, "err", err)
		return
	}
	if ps.pending > 0 {
		p.Credit, ps.stale = ps.plan.Credit, true
	}
	ps.plan, ps.month = p, now.UTC().Month()
}

// planAllows says whether the tenant's plan lets an attempt start now: its
// channels below the plan's, and credit left when prepaid. A campaign
// without credit is blocked; it waits for ServicesChanged, not a timer.
func (e *Engine) planAllows(r *campaignRun, it *workItem, now time.Time) bool {
	ps := e.planOf(it.TenantID, now)
	if ps == nil {
		return true
	}
	l := ps.plan.Limits
	if l.Channels > 0 && e.caps.channels[it.TenantID] >= l.Channels {
		return false
	}
	if l.Prepaid && ps.plan.Credit-e.spentInFlight(it.TenantID, ps.plan.SecondRate, now) <= 0 {
		if r != nil {
			e.block(r, Blocked{Reason: BlockedNoCredit, Field: "services.topup"}, false, now)
		}
		return false
	}
	if ps.month != now.UTC().Month() {
		ps.plan.MonthSeconds, ps.month = 0, now.UTC().Month()
	}
	if l.MonthlyCallSeconds > 0 && ps.plan.MonthSeconds >= l.MonthlyCallSeconds {
		if r != nil {
			e.block(r, Blocked{Reason: fmt.Sprintf("the plan's %d call seconds of this month are used up", l.MonthlyCallSeconds),
				Field: "limits.monthly_call_seconds"}, false, now)
		}
		return false
	}
	return true
}

// applyPlanCPM runs a campaign at the lower of its CPM and its plan's,
// and says so when the plan lowers it.
func (e *Engine) applyPlanCPM(r *campaignRun, now time.Time) {
	base := e.campaignCPM(r.c) // within engine.max_cpm
	cpm := base
	ps := e.planOf(r.c.TenantID, now)
	if ps != nil && ps.plan.Limits.CPM > 0 && cpm > ps.plan.Limits.CPM {
		cpm = ps.plan.Limits.CPM
	}
	r.pacer.SetCPM(cpm)
	if e.cpmCapped == nil {
		e.cpmCapped = map[int64]int{}
	}
	was, capped := e.cpmCapped[r.c.ID]
	switch {
	case cpm < base && (!capped || was != cpm):
		e.cpmCapped[r.c.ID] = cpm
		msg := fmt.Sprintf("the plan allows %d calls per minute: the campaign's cpm %d runs at %d", cpm, r.c.CPM, cpm)
		e.log.Info("engine: campaign capped by the tenant's plan", "campaign", r.c.ID, "tenant", r.c.TenantID, "cpm", r.c.CPM, "plan_cpm", cpm)
		e.publish(Event{Type: EventCampaignCapped, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy,
			Status: string(r.c.Status), Response: msg, Field: "cpm"})
	case cpm >= base && capped:
		delete(e.cpmCapped, r.c.ID)
		e.publish(Event{Type: EventCampaignUncapped, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy,
			Status: string(r.c.Status)})
	}
}

// CampaignCPM is the CPM a running campaign dials at and whether its plan
// lowered it; ok is false when it is not running.
func (e *Engine) CampaignCPM(ctx context.Context, tenantID string, id int64) (cpm int, capped, ok bool, err error) {
	err = e.do(ctx, func() error {
		r, running := e.runs[id]
		if !running || r.c.TenantID != tenantID {
			return nil
		}
		ok = true
		cpm = r.c.CPM
		if c, is := e.cpmCapped[id]; is {
			cpm, capped = c, true
		}
		return nil
	})
	return cpm, capped, ok, err
}

// chargeCall debits a prepaid tenant's answered seconds as its call ends:
// the loop's credit at once, the ledger off the loop. The seconds are
// those the spool records (whole seconds from answer to end), so ledger,
// usage and spools agree to the second.
func (e *Engine) chargeCall(tenantID string, spoolID int64, connect, end time.Time) {
	if spoolID == 0 || connect.IsZero() {
		return
	}
	// The plan as known, not read again now: a read would already count
	// this call's spool, recorded just before.
	ps := e.plans[tenantID]
	seconds := end.Unix() - connect.Unix()
	if ps == nil || seconds <= 0 {
		return
	}
	ps.plan.MonthSeconds += seconds
	if !ps.plan.Limits.Prepaid {
		return
	}
	micros := int64(math.Round(float64(seconds) * ps.plan.SecondRate * 1e6))
	ps.plan.Credit -= micros
	ps.pending += micros
	e.tasks.Add(1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.tasks.Add(-1)
		// Not the calls' context: a debit lands even while stopping.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := e.plansrc.DebitCall(ctx, tenantID, spoolID, seconds, micros, end)
		if err != nil {
			e.log.Error("engine: debiting a call", "tenant", tenantID, "spool", spoolID, "seconds", seconds, "err", err)
		}
		e.post(func() {
			ps.pending -= micros
			if err != nil || (ps.pending == 0 && ps.stale) {
				ps.loaded, ps.stale = false, false // read the ledger again before the next attempt
			}
		})
	}()
}

// spentInFlight is what the tenant's answered calls in flight have cost
// so far at rate dollars a second, in micro-dollars, counted in the whole
// seconds chargeCall will debit.
func (e *Engine) spentInFlight(tenantID string, rate float64, now time.Time) int64 {
	var seconds int64
	for _, a := range e.inflight {
		if a.item.TenantID == tenantID && !a.answered.IsZero() {
			seconds += max(now.Unix()-a.answered.Unix(), 0)
		}
	}
	return int64(math.Round(float64(seconds) * rate * 1e6))
}

// noCredit refuses what would dial for a prepaid tenant at zero credit
// (its answered calls in flight counted as spent).
func (e *Engine) noCredit(tenantID string) error {
	now := e.clock.Now()
	ps := e.planOf(tenantID, now)
	if ps == nil || !ps.plan.Limits.Prepaid {
		return nil
	}
	if left := ps.plan.Credit - e.spentInFlight(tenantID, ps.plan.SecondRate, now); left <= 0 {
		return NoCredit(fmt.Sprintf("no credit: the account is prepaid and its balance is %.2f after the calls in flight; top up first", Dollars(left)))
	}
	return nil
}

// checkCredit refuses to start a prepaid tenant's campaign at zero
// credit, and one more campaign than its plan lets run at once.
func (e *Engine) checkCredit(tenantID string) error {
	if err := e.noCredit(tenantID); err != nil {
		return err
	}
	ps := e.planOf(tenantID, e.clock.Now())
	if ps == nil {
		return nil
	}
	if n := ps.plan.Limits.CampaignsRunning; n > 0 {
		running := 0
		for _, r := range e.runs {
			if r.c.TenantID == tenantID {
				running++
			}
		}
		if running >= n {
			return Conflict(fmt.Sprintf("the plan lets %d campaigns run at once; stop one first", n))
		}
	}
	return nil
}

// ServicesChanged tells the engine that a tenant's plan, overrides or
// credit changed: it reads them again at once, re-caps the tenant's
// running campaigns, and dispatches (a topup unblocks at once). It does
// not wait.
func (e *Engine) ServicesChanged(tenantID string) {
	if !e.started.Load() || e.plansrc == nil {
		return
	}
	e.postAsync(func() {
		now := e.clock.Now()
		if ps, ok := e.plans[tenantID]; ok {
			ps.loaded = false
		}
		e.planOf(tenantID, now)
		for _, r := range e.runs {
			if r.c.TenantID == tenantID {
				e.applyPlanCPM(r, now)
			}
		}
	})
}
