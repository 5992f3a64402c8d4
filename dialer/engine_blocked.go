package dialer

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// BlockedCampaign is a running campaign that cannot dial, and why.
type BlockedCampaign struct {
	TenantID   string
	CampaignID int64
	Blocked    Blocked
}

// blockState is why a run cannot dial. A content block lasts until the
// tenant's configuration changes (ConfigChanged); the others are looked at
// again on every dispatch and lift by themselves.
type blockState struct {
	Blocked
	sticky bool
}

// runBoard is the copy of the loop's blocked runs, and of the running
// campaigns' counters, that API requests read without going through the
// loop.
type runBoard struct {
	mu       sync.RWMutex
	m        map[int64]BlockedCampaign
	counters map[int64]CampaignCounters
}

func (b *runBoard) setCounters(id int64, cc CampaignCounters) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.counters == nil {
		b.counters = map[int64]CampaignCounters{}
	}
	b.counters[id] = cc
}

// CampaignCounters are a running campaign's counters as the engine keeps
// them (what campaign.progress publishes): false when it is not running
// here, and the store must count.
func (e *Engine) CampaignCounters(id int64) (CampaignCounters, bool) {
	e.board.mu.RLock()
	defer e.board.mu.RUnlock()
	cc, ok := e.board.counters[id]
	return cc, ok
}

func (b *runBoard) set(c BlockedCampaign) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[int64]BlockedCampaign{}
	}
	b.m[c.CampaignID] = c
}

func (b *runBoard) clear(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
}

func (b *runBoard) dropRun(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
	delete(b.counters, id)
}

// CampaignBlocked says why a running campaign of the tenant cannot dial;
// nil when it can (or is not running).
func (e *Engine) CampaignBlocked(tenantID string, id int64) *Blocked {
	e.board.mu.RLock()
	defer e.board.mu.RUnlock()
	c, ok := e.board.m[id]
	if !ok || c.TenantID != tenantID {
		return nil
	}
	b := c.Blocked
	return &b
}

// BlockedCampaigns lists every running campaign that cannot dial, by id.
func (e *Engine) BlockedCampaigns() []BlockedCampaign {
	e.board.mu.RLock()
	out := make([]BlockedCampaign, 0, len(e.board.m))
	for _, c := range e.board.m {
		out = append(out, c)
	}
	e.board.mu.RUnlock()
	slices.SortFunc(out, func(a, b BlockedCampaign) int { return int(a.CampaignID - b.CampaignID) })
	return out
}

// block marks a run blocked with a reason, once: the event and the log line
// are sent when the reason changes, not on every dispatch.
func (e *Engine) block(r *campaignRun, b Blocked, sticky bool, now time.Time) {
	if r.blocked != nil && r.blocked.Reason == b.Reason && r.blocked.Field == b.Field {
		r.blocked.sticky = r.blocked.sticky || sticky
		return
	}
	b.Since = now
	r.blocked = &blockState{Blocked: b, sticky: sticky}
	e.board.set(BlockedCampaign{TenantID: r.c.TenantID, CampaignID: r.c.ID, Blocked: b})
	e.log.Warn("engine: campaign cannot dial", "campaign", r.c.ID, "tenant", r.c.TenantID, "reason", b.Reason,
		"fix", b.Field, "fault", b.Fault)
	e.publish(Event{Type: EventCampaignBlocked, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy,
		Status: string(r.c.Status), Response: b.Reason, Field: b.Field, Fault: b.Fault})
}

// unblock lifts a run's block.
func (e *Engine) unblock(r *campaignRun, now time.Time) {
	if r.blocked == nil {
		return
	}
	r.blocked = nil
	e.board.clear(r.c.ID)
	e.log.Info("engine: campaign can dial again", "campaign", r.c.ID, "tenant", r.c.TenantID)
	e.publish(Event{Type: EventCampaignUnblocked, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy,
		Status: string(r.c.Status)})
}

// blockContent blocks a campaign whose content or configuration a gateway
// refused: every other attempt would fail the same way, so the campaign
// keeps its work and waits for a fix.
func (e *Engine) blockContent(r *campaignRun, v Verdict, err error, now time.Time) {
	reason := "a gateway refused the campaign's content or configuration (" + v.Cause + ")"
	if err != nil {
		reason = fmt.Sprintf("%s: %v", reason, err)
	}
	e.block(r, Blocked{Reason: reason, Field: v.Field, Fault: FaultContent.String()}, true, now)
}

// ConfigChanged tells the engine that a tenant's providers, programs or
// messages changed: they are read again before the next attempt, and its
// campaigns blocked by their content or configuration try again. It does
// not wait.
func (e *Engine) ConfigChanged(tenantID string) {
	if !e.started.Load() {
		return
	}
	e.postAsync(func() {
		if e.comp != nil {
			delete(e.comp.tenants, tenantID) // its DIDs (caller ids) are read again too
		}
		tp, ok := e.caps.tenants[tenantID]
		if !ok {
			return // never read: the first use reads the new configuration
		}
		if tp.reading {
			// The read running began before the change: read once more
			// after it, and release blocked campaigns on that one.
			tp.again = true
			return
		}
		tp.changed = true
		e.refreshAside(tenantID, tp)
	})
}

// RouteUp tells the engine that a route was seen healthy: the back-off of
// every provider it names ends at once. It does not wait.
func (e *Engine) RouteUp(u RouteUp) {
	if !e.started.Load() {
		return
	}
	e.postAsync(func() {
		for _, p := range e.caps.providers {
			match := u.ProviderID != 0 && p.info.ID == u.ProviderID
			if u.ProviderID == 0 && u.Node != "" {
				match = p.route.Node == u.Node || (p.route.Node == "" && p.route.Gateway == GatewayFreeSWITCH)
			}
			if match && (p.failures > 0 || !p.backoffUntil.IsZero()) {
				e.log.Info("engine: route healthy again; back-off ended", "provider", p.info.ID, "node", u.Node)
				p.healthy()
			}
		}
	})
}

// healthy ends a provider's back-off: it carried a call, or its gateway
// saw it healthy.
func (p *providerState) healthy() {
	p.failures = 0
	p.backoffUntil = time.Time{}
}

// CallAnswered records an answer a gateway saw for a call it was not
// following: a SIP 200 that reached a new process for an INVITE of the
// one before it. The spool is marked answered durably, so its callee is
// never dialled again by itself; the gateway ends the call. It does not
// wait.
func (e *Engine) CallAnswered(callUUID string, at time.Time) {
	if !e.started.Load() || callUUID == "" {
		return
	}
	e.postAsync(func() {
		for _, a := range e.inflight {
			if a.att.CallUUID == callUUID && a.answered.IsZero() && a.spoolID != 0 {
				e.attemptProgress(a, Progress{Kind: ProgressAnswered, At: at})
				return
			}
		}
	})
}
