package dialer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// engineCompliance is what the engine holds for compliance, loop-owned
// except dnc (which is safe for concurrent use: the store and the
// gateways' opt-outs write it).
type engineCompliance struct {
	store     ComplianceStore
	dnc       *DNCSet
	tenants   map[string]*tenantSettings
	campaigns map[int64]CompliancePolicy
	singles   map[int64][]int64 // single transmissions' named lists
	// redial holds, per tenant and number, the attempts of the last 24
	// hours, oldest first.
	redial map[string]map[uint64][]time.Time
}

type tenantSettings struct {
	TenantCompliance
	loadedAt time.Time
	reading  bool // a re-read runs off the loop
}

func newEngineCompliance(s ComplianceStore, dnc *DNCSet) *engineCompliance {
	if s == nil {
		return nil
	}
	if dnc == nil {
		dnc = NewDNCSet()
	}
	return &engineCompliance{store: s, dnc: dnc, tenants: map[string]*tenantSettings{},
		campaigns: map[int64]CompliancePolicy{}, singles: map[int64][]int64{}, redial: map[string]map[uint64][]time.Time{}}
}

// redialWindow is the rolling period of the redial limit.
const redialWindow = 24 * time.Hour

// loadCompliance reads the attempts of the last 24 hours for the redial
// limit, before anything is dialled.
func (e *Engine) loadCompliance(ctx context.Context) error {
	if e.comp == nil {
		return nil
	}
	now := e.clock.Now()
	as, err := e.comp.store.RecentAttempts(ctx, now.Add(-redialWindow))
	if err != nil {
		return fmt.Errorf("dialer: reading recent attempts: %w", err)
	}
	for _, a := range as {
		e.noteAttempt(a.TenantID, a.Phone, a.At)
	}
	return nil
}

// tenantCompliance is a tenant's settings. The first read is made at
// once; after that they are re-read every ProviderRefresh off the loop, as
// the providers are, so a slow store never holds up dialing, and the loop
// goes on with what it has until the new read is in (a failed read keeps
// what it had, or the defaults).
func (e *Engine) tenantCompliance(tenantID string) TenantCompliance {
	now := e.clock.Now()
	ts, ok := e.comp.tenants[tenantID]
	if !ok {
		tc, err := e.readTenantCompliance(e.loopCtx, tenantID)
		ts = &tenantSettings{TenantCompliance: DefaultTenantCompliance(), loadedAt: now}
		ts.apply(tc, err)
		e.comp.tenants[tenantID] = ts
		e.logComplianceRead(tenantID, err)
		return ts.TenantCompliance
	}
	if now.Sub(ts.loadedAt) >= e.cfg.ProviderRefresh && !ts.reading {
		ts.reading = true
		e.tasks.Add(1)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.tasks.Add(-1)
			tc, err := e.readTenantCompliance(e.loopCtx, tenantID)
			e.post(func() {
				ts.reading = false
				ts.loadedAt = e.clock.Now()
				ts.apply(tc, err)
				e.logComplianceRead(tenantID, err)
			})
		}()
	}
	return ts.TenantCompliance
}

// readTenantCompliance touches no engine state: it may run off the loop.
func (e *Engine) readTenantCompliance(ctx context.Context, tenantID string) (TenantCompliance, error) {
	tc, err := e.comp.store.TenantCompliance(ctx, tenantID)
	if tc.RedialLimit <= 0 {
		tc.RedialLimit = DefaultRedialLimit
	}
	return tc, err
}

// apply installs a read, or keeps what it had when the read failed.
func (ts *tenantSettings) apply(tc TenantCompliance, err error) {
	if err == nil {
		ts.TenantCompliance = tc
	}
}

func (e *Engine) logComplianceRead(tenantID string, err error) {
	if err != nil && e.loopCtx.Err() == nil {
		e.log.Error("engine: reading a tenant's compliance settings; keeping the last ones", "tenant", tenantID, "err", err)
	}
}

// campaignPolicy is a running campaign's policy, read once per run (and
// again after a reconfiguration).
func (e *Engine) campaignPolicy(r *campaignRun) CompliancePolicy {
	p, ok := e.comp.campaigns[r.c.ID]
	if ok {
		return p
	}
	p, err := e.comp.store.CompliancePolicy(e.loopCtx, r.c.TenantID, r.c.ID, 0)
	if err != nil {
		e.log.Error("engine: reading a campaign's compliance policy; applying the tenant's defaults", "campaign", r.c.ID, "err", err)
		return CompliancePolicy{}
	}
	e.comp.campaigns[r.c.ID] = p
	return p
}

// forgetPolicy drops a campaign's cached policy (it changed or stopped).
func (e *Engine) forgetPolicy(id int64) {
	if e.comp != nil {
		delete(e.comp.campaigns, id)
	}
}

// windowsOf is every window an item of r must be inside: the tenant's
// default one unless the campaign overrides it, and the campaign's own. A
// single transmission (r nil) has the tenant's default one, an e-mail none.
func (e *Engine) windowsOf(r *campaignRun, it *workItem) []Window {
	if r == nil {
		if svc, _ := ServiceOf(it.Program); e.comp == nil || svc == ServiceEmail || it.Phone == "" {
			return nil
		}
		return []Window{e.tenantCompliance(it.TenantID).Window}
	}
	if e.comp == nil {
		return []Window{r.window}
	}
	ws := make([]Window, 0, 2)
	if !e.campaignPolicy(r).WindowOverride {
		ws = append(ws, e.tenantCompliance(r.c.TenantID).Window)
	}
	if !r.window.always() || len(ws) == 0 {
		ws = append(ws, r.window)
	}
	return ws
}

// locsOf is every time zone the called party of an item may be in: its
// contact's when set, else every zone its number maps to, else the
// campaign's (UTC for a single transmission).
func (e *Engine) locsOf(r *campaignRun, it *workItem) []*time.Location {
	if loc := e.location(it.ContactTZ); loc != nil || e.comp == nil {
		return []*time.Location{e.itemLoc(r, it)}
	}
	var locs []*time.Location
	if zones := NumberZones(it.Phone); len(zones) > 0 {
		for _, z := range zones {
			if loc := e.location(z); loc != nil {
				locs = append(locs, loc)
			}
		}
	}
	if len(locs) == 0 {
		return []*time.Location{e.itemLoc(r, it)}
	}
	return locs
}

// NumberZones is the time zones phonenumbers maps a number to; none when
// it maps it only as far as its country and the country spans several
// zones (a toll-free or unassigned NANP area code maps to every zone from
// Guam to Newfoundland, and no calling window holds in all of them): then
// the campaign's time zone is the best guess.
func NumberZones(phone string) []string {
	zones, err := phonenumbers.GetTimezonesForPrefix(phone)
	if err != nil || len(zones) == 0 || zones[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return nil
	}
	if len(zones) == 1 {
		return zones
	}
	for k := 2; k <= 4 && k < len(phone); k++ {
		country, err := phonenumbers.GetTimezonesForPrefix(phone[:k])
		if err != nil || len(country) == 0 || country[0] == phonenumbers.UNKNOWN_TIMEZONE {
			continue
		}
		if slices.Equal(country, zones) {
			return nil
		}
		break
	}
	return zones
}

// windowAllows: may an item of r be dialled at t, in every window and
// every zone that applies.
func (e *Engine) windowAllows(r *campaignRun, it *workItem, t time.Time) bool {
	locs := e.locsOf(r, it)
	for _, w := range e.windowsOf(r, it) {
		for _, loc := range locs {
			if !w.Allows(t, loc) {
				return false
			}
		}
	}
	return true
}

// windowNext is the first instant at or after t inside every window in
// every zone: each window's next opening is taken in turn until none
// moves. ok is false when they do not meet within the passes allowed
// (windows too narrow for zones too far apart).
func (e *Engine) windowNext(r *campaignRun, it *workItem, t time.Time) (time.Time, bool) {
	ws, locs := e.windowsOf(r, it), e.locsOf(r, it)
	cur := t
	for range 64 {
		moved := false
		for _, w := range ws {
			for _, loc := range locs {
				n, ok := w.Next(cur, loc)
				if !ok {
					return time.Time{}, false
				}
				if n.After(cur) {
					cur, moved = n, true
				}
			}
		}
		if !moved {
			return cur, true
		}
	}
	return time.Time{}, false
}

// noteDeferred records, once per wait, that the calling window moved an
// item past its due time.
func (e *Engine) noteDeferred(it *workItem) {
	if e.comp == nil || it.deferred {
		return
	}
	it.deferred = true
	e.store.Record(WindowDeferred{TransmissionID: it.TransmissionID})
}

// redialUntil is when an item of r may be dialled under the tenant's
// redial limit; zero when it may now.
func (e *Engine) redialUntil(it *workItem, now time.Time) time.Time {
	if e.comp == nil {
		return time.Time{}
	}
	k, ok := DNCKey(it.Phone)
	if !ok {
		return time.Time{}
	}
	byNum := e.comp.redial[it.TenantID]
	ts := byNum[k]
	cut := 0
	for cut < len(ts) && !ts[cut].After(now.Add(-redialWindow)) {
		cut++
	}
	if cut > 0 {
		ts = ts[cut:]
		if len(ts) == 0 {
			delete(byNum, k)
		} else {
			byNum[k] = ts
		}
	}
	limit := e.tenantCompliance(it.TenantID).RedialLimit
	if len(ts) < limit {
		return time.Time{}
	}
	return ts[len(ts)-limit].Add(redialWindow)
}

// noteAttempt counts an attempt to a number for the redial limit.
func (e *Engine) noteAttempt(tenantID, phone string, at time.Time) {
	if e.comp == nil {
		return
	}
	k, ok := DNCKey(phone)
	if !ok {
		return
	}
	byNum := e.comp.redial[tenantID]
	if byNum == nil {
		byNum = map[uint64][]time.Time{}
		e.comp.redial[tenantID] = byNum
	}
	ts := byNum[k]
	i := len(ts)
	for i > 0 && ts[i-1].After(at) {
		i--
	}
	byNum[k] = append(ts[:i], append([]time.Time{at}, ts[i:]...)...)
}

// suppressed scrubs an item against the do-not-call lists that apply.
func (e *Engine) suppressed(r *campaignRun, it *workItem, now time.Time) (Suppression, bool) {
	if e.comp == nil || it.Phone == "" {
		return Suppression{}, false
	}
	if svc, _ := ServiceOf(it.Program); svc == ServiceEmail {
		return Suppression{}, false
	}
	var lists []int64
	if r != nil {
		lists = e.campaignPolicy(r).Lists
	} else {
		var ok bool
		if lists, ok = e.comp.singles[it.TransmissionID]; !ok {
			p, err := e.comp.store.CompliancePolicy(e.loopCtx, it.TenantID, 0, it.TransmissionID)
			if err != nil {
				e.log.Error("engine: reading a transmission's do-not-call lists; scrubbing against the tenant's defaults", "transmission", it.TransmissionID, "err", err)
			}
			lists = p.Lists
			e.comp.singles[it.TransmissionID] = lists
		}
	}
	return e.comp.dnc.Check(it.TenantID, lists, it.Phone, now)
}

// closeSuppressed ends a transmission whose number is on a list, without
// dialing, naming the list.
func (e *Engine) closeSuppressed(r *campaignRun, it *workItem, now time.Time, sp Suppression) {
	e.unqueue(r, it)
	delete(e.comp.singles, it.TransmissionID)
	resp := sp.Response()
	e.store.Record(TransmissionSuppressed{TransmissionID: it.TransmissionID, ListID: sp.ListID, Response: resp})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, Status: string(TransmissionInvalid), Response: resp})
	e.failWaiters(it.TransmissionID, InvalidField("contact_id", "the contact's number is on a do-not-call list: "+resp))
	if r != nil {
		r.counters.Pending--
		r.counters.Done++
		r.counters.Suppressed++
		e.publishProgress(r, now)
	}
}

// armOptOut gives an attempt whose program has an opt-out digit the
// function the gateway calls when the callee presses it: the number is
// suppressed in memory at once, made durable on the tenant's default list
// (on the gateway's goroutine, never the loop's), and announced.
func (e *Engine) armOptOut(att *Attempt, it *workItem) {
	if e.comp == nil || att.Media.OptOutDigit == "" {
		return
	}
	tenantID, phone := it.TenantID, it.Phone
	txID, campID, owner := it.TransmissionID, it.CampaignID, it.OwnerID
	att.OptOut = func(ctx context.Context, digit string) error {
		at := e.clock.Now()
		e.comp.dnc.OptOut(tenantID, phone)
		o := OptOut{TenantID: tenantID, Number: phone, TransmissionID: txID, CampaignID: campID, Digit: digit, At: at}
		if err := e.comp.store.RecordOptOut(ctx, o); err != nil {
			return fmt.Errorf("dialer: recording the opt-out of %s: %w", phone, err)
		}
		e.postAsync(func() {
			e.publish(Event{Type: EventContactOptedOut, At: at, TenantID: tenantID, CampaignID: campID, OwnerID: owner,
				TransmissionID: txID, Number: phone, Digit: digit})
		})
		return nil
	}
}

// DNC is the engine's do-not-call set (nil without compliance).
func (e *Engine) DNC() *DNCSet {
	if e.comp == nil {
		return nil
	}
	return e.comp.dnc
}
