package dialer

import (
	"cmp"
	"container/heap"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// dispatch starts every attempt that may start now and arms the timer for
// the next moment something may. It runs on the loop after every event.
func (e *Engine) dispatch() {
	now := e.clock.Now()
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	owed := time.Time{} // the earliest grid slot a campaign is still behind
	if !e.draining {
		e.runSchedules(now, consider)
		if e.gw != nil {
			e.dispatchSingles(now, consider)
			owed = e.dispatchCampaigns(now, consider)
		}
	}
	e.armWake(now, next)
	e.noteBehind(owed, next)
	e.checkIdle()
}

// dispatchSingles starts the due single transmissions in due order. One
// that cannot start holds back only those of its own tenant and service
// (they would meet the same caps and routes), never another's.
func (e *Engine) dispatchSingles(now time.Time, consider func(time.Time)) {
	type lane struct {
		tenant  string
		service int
	}
	var held []*workItem
	stuck := map[lane]bool{}
	for e.singles.Len() > 0 {
		it := e.singles.peek()
		if it.key.After(now) {
			consider(it.key)
			break
		}
		if why := e.holdSingle(it, now); why != "" {
			e.singles.fix(it)
			e.failWaiters(it.TransmissionID, NotReady("queued: "+why))
			continue
		}
		svc, _ := ServiceOf(it.Program)
		l := lane{it.TenantID, svc}
		if !stuck[l] {
			consumed, _, retry := e.tryStart(nil, it, now)
			if consumed {
				continue
			}
			consider(retry)
			stuck[l] = true
		}
		held = append(held, e.singles.pop())
	}
	for _, it := range held {
		e.singles.push(it)
	}
}

// dispatchCampaigns gives each running campaign the originations its
// pacer allows at this instant (one, but several when a fast campaign's
// wake-up came late: see Pacer), starting the round at a different
// campaign each time so tight caps are shared fairly.
// It returns the earliest grid slot a campaign that dialed is still
// behind after this round (zero: none is).
func (e *Engine) dispatchCampaigns(now time.Time, consider func(time.Time)) (owed time.Time) {
	order := slices.Clone(e.runOrder)
	if len(order) == 0 {
		return owed
	}
	e.rr = (e.rr + 1) % len(order)
	for i := range order {
		r, ok := e.runs[order[(e.rr+i)%len(order)]]
		if !ok {
			continue
		}
		e.refill(r, now)
		dialedNow := false
		for r.queue.Len() > 0 && (r.blocked == nil || !r.blocked.sticky) {
			if !r.pacer.Ready(now) {
				consider(r.pacer.Next())
				break
			}
			it, at := e.nextEligible(r, now)
			if it == nil {
				consider(at)
				break
			}
			consumed, dialed, retry := e.tryStart(r, it, now)
			if !consumed {
				consider(retry)
				break
			}
			if dialed {
				r.pacer.Mark(now)
				dialedNow = true
				if r.pacer.Ready(now) {
					continue // a late wake-up of a fast campaign: its slots have passed
				}
				consider(r.pacer.Next())
				break
			}
			// Closed without dialing (an unusable number): no pacing spent.
		}
		if !dialedNow && r.pacer.Ready(now) {
			// Its turn passed unused: no credit for it.
			r.pacer.Idle()
		}
		if late := r.pacer.Behind(now); dialedNow && late > 0 && (owed.IsZero() || now.Add(-late).Before(owed)) {
			owed = now.Add(-late)
		}
		if _, still := e.runs[r.c.ID]; still {
			e.notePaused(r, now)
			e.checkCompleted(r, now)
		}
	}
	return owed
}

// notePaused publishes campaign.paused when a campaign's due work waits
// only for its calling window, and campaign.resumed when it no longer does.
func (e *Engine) notePaused(r *campaignRun, now time.Time) {
	waiting := false
	if r.queue.Len() > 0 {
		top := r.queue.peek()
		waiting = top.key.After(now) && !top.Due.After(now)
	}
	if waiting == r.paused {
		return
	}
	r.paused = waiting
	typ := EventCampaignResumed
	if waiting {
		typ = EventCampaignPaused
	}
	e.publish(Event{Type: typ, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy, Status: string(r.c.Status)})
}

// attempt is one call the engine has started (or re-attached).
type attempt struct {
	item       *workItem
	provider   *providerState // nil when recovery could not resolve it
	started    time.Time
	att        Attempt // read by the attempt goroutine only, once spawned
	spoolID    int64
	reattach   bool
	tryAllowed int
	retryDelay time.Duration
	// What is known of the call's progress, as recorded (and, for a
	// re-attached attempt, as a previous run recorded it).
	ringing, answered, delivered time.Time
	dialog                       []byte
	pq                           progressQueue
}

// progressQueue is an attempt's progress on its way to the loop.
type progressQueue struct {
	mu     sync.Mutex
	items  []Progress
	posted bool // a drain is posted and has not run yet
}

// tryStart starts an attempt of it now if every cap allows. consumed means
// it left its queue: dialed, or closed without dialing because it cannot
// be dialed at all. Otherwise retry is when capacity may appear (zero:
// when a call ends).
func (e *Engine) tryStart(r *campaignRun, it *workItem, now time.Time) (consumed, dialed bool, retry time.Time) {
	svc, ok := ServiceOf(it.Program)
	switch {
	case !ok:
		e.closeUndialable(r, it, now, "program "+string(it.Program)+" cannot be sent")
		return true, false, time.Time{}
	case svc == ServiceEmail && it.Email == "":
		e.closeUndialable(r, it, now, CauseInvalidNumber)
		return true, false, time.Time{}
	case svc != ServiceEmail && !Dialable(it.Phone):
		e.closeUndialable(r, it, now, CauseInvalidNumber)
		return true, false, time.Time{}
	}
	if sp, ok := e.suppressed(r, it, now); ok {
		e.closeSuppressed(r, it, now, sp)
		return true, false, time.Time{}
	}
	if e.caps.channels[it.TenantID] >= e.cfg.TenantChannels || !e.planAllows(r, it, now) {
		return false, false, time.Time{}
	}
	// The caller id is checked against each route as it is chosen: a
	// route that may not present it is passed over, and when none may the
	// attempt is refused as a configuration fault.
	p, retry, none, refused := e.pickProviderWhere(it.TenantID, svc, now, func(p *providerState) string { return e.callerIDRefusal(it, svc, p) })
	if refused != "" {
		return e.callerIDRefused(r, it, refused, now)
	}
	if p == nil {
		if none && r != nil {
			e.block(r, Blocked{Reason: fmt.Sprintf("no active provider of the tenant serves %s (service_flag %d)", serviceName(svc), svc),
				Field: "service_flag", Fault: FaultContent.String()}, false, now)
		}
		return false, false, retry
	}
	media, err := e.mediaFor(it.TenantID, it.ProgramID, now)
	if errors.Is(err, ErrNotFound) {
		e.closeUndialable(r, it, now, "program not found")
		return true, false, time.Time{}
	}
	if err != nil {
		e.log.Error("engine: reading program media", "program", it.ProgramID, "err", err)
		return false, false, now.Add(e.cfg.ProviderRefresh)
	}
	att := Attempt{
		CallUUID:       newCallUUID(),
		TransmissionID: it.TransmissionID,
		CampaignID:     it.CampaignID,
		TenantID:       it.TenantID,
		Program:        it.Program,
		Phone:          it.Phone,
		Email:          it.Email,
		Contact:        it.Contact,
		CallerIDNumber: CallerIDNumber(it.CallerID),
		Provider:       p.route,
		RingTimeout:    e.cfg.RingTimeout,
		MaxDuration:    e.cfg.MaxDuration,
		Media:          media,
	}
	e.armOptOut(&att, it)
	if e.placer != nil {
		route, err := e.placer.Place(att)
		if err != nil {
			return e.placeRefused(r, it, p, err, now)
		}
		att.Provider = route
	}
	if r != nil {
		e.unblock(r, now)
	}
	e.unqueue(r, it)
	e.reserve(p, it.TenantID, att.Provider.Node, now)
	it.TryDone++
	it.deferred = false
	e.noteAttempt(it.TenantID, it.Phone, now)
	a := &attempt{item: it, provider: p, started: now, tryAllowed: it.TryAllowed, retryDelay: e.cfg.RetryDelay, att: att}
	if r != nil {
		a.tryAllowed, a.retryDelay = r.c.TryAllowed, time.Duration(r.c.RetryDelay)*time.Second
		r.inFlight++
		r.counters.Pending--
		r.counters.InFlight++
	}
	e.inflight[it.TransmissionID] = a
	e.spawn(a)
	return true, true, time.Time{}
}

// placeRefused acts on a gateway's refusal to place an attempt, before
// anything was written or spent: a route it knows is down is backed off
// and the next dispatch tries another; what no route can carry blocks the
// campaign (or fails a single transmission) with the reason.
func (e *Engine) placeRefused(r *campaignRun, it *workItem, p *providerState, err error, now time.Time) (consumed, dialed bool, retry time.Time) {
	v := ClassifyError(err)
	if v.Fault != FaultContent {
		e.providerFailed(p, now)
		return false, false, now
	}
	if r != nil {
		e.blockContent(r, v, err, now)
		return false, false, time.Time{}
	}
	e.unqueue(r, it)
	e.store.Record(TransmissionChanged{TransmissionID: it.TransmissionID, Status: TransmissionFailed, Response: v.Cause})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: it.TenantID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, Status: string(TransmissionFailed), Response: v.Cause, Field: v.Field, Fault: v.Fault.String()})
	e.failWaiters(it.TransmissionID, InvalidField(cmp.Or(v.Field, "provider_id"), err.Error()))
	return true, false, time.Time{}
}

// unqueue takes an item out of whichever queue holds it.
func (e *Engine) unqueue(r *campaignRun, it *workItem) {
	if r != nil {
		r.queue.remove(it)
	} else {
		e.singles.remove(it)
	}
	delete(e.queued, it.TransmissionID)
}

// closeUndialable ends a transmission that no attempt could deliver
// (no usable number or address, no program) without dialing anyone.
func (e *Engine) closeUndialable(r *campaignRun, it *workItem, now time.Time, response string) {
	e.unqueue(r, it)
	e.store.Record(TransmissionChanged{TransmissionID: it.TransmissionID, Status: TransmissionInvalid, Response: response})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, Status: string(TransmissionInvalid), Response: response})
	e.failWaiters(it.TransmissionID, InvalidField("contact_id", "the contact has no number or address that can be used: "+response))
	if r != nil {
		r.counters.Pending--
		r.counters.Done++
		r.counters.Failed++
		e.publishProgress(r, now)
	}
}

type cachedMedia struct {
	media    Media
	loadedAt time.Time
	reading  bool
}

// mediaFor reads what a program sends: at once the first time (or after a
// configuration change emptied the cache), then every ProviderRefresh off
// the loop, going on with what it has meanwhile.
func (e *Engine) mediaFor(tenantID string, programID int64, now time.Time) (Media, error) {
	m, ok := e.media[programID]
	if !ok {
		_, media, err := e.store.ProgramMedia(e.loopCtx, tenantID, programID)
		if err != nil {
			return media, err
		}
		e.media[programID] = &cachedMedia{media: media, loadedAt: now}
		return media, nil
	}
	if now.Sub(m.loadedAt) >= e.cfg.ProviderRefresh && !m.reading {
		m.reading = true
		e.tasks.Add(1)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.tasks.Add(-1)
			_, media, err := e.store.ProgramMedia(e.loopCtx, tenantID, programID)
			e.post(func() {
				m.reading = false
				m.loadedAt = e.clock.Now()
				switch {
				case errors.Is(err, ErrNotFound):
					delete(e.media, programID) // the next use says so
				case err != nil:
					e.log.Error("engine: re-reading program media; keeping what it had", "program", programID, "err", err)
				case e.media[programID] == m:
					m.media = media
				}
			})
		}()
	}
	return m.media, nil
}

// newCallUUID is a random (version 4) UUID: the call's identity at the
// gateway (FreeSWITCH's origination_uuid), committed with the spool.
func newCallUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (e *Engine) publishProgress(r *campaignRun, now time.Time) {
	if r.counters == r.published {
		return
	}
	r.published = r.counters
	if _, running := e.runs[r.c.ID]; running {
		e.board.setCounters(r.c.ID, r.counters)
	}
	cc := r.counters
	e.publish(Event{Type: EventCampaignProgress, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy,
		Status: string(r.c.Status), Counters: &cc})
}

// checkCompleted ends a campaign with nothing left to try.
func (e *Engine) checkCompleted(r *campaignRun, now time.Time) {
	if r.queue.Len() > 0 || r.inFlight > 0 || !r.exhausted || r.loading || r.materializing {
		if !r.exhausted {
			e.refill(r, now)
		}
		return
	}
	e.store.Record(CampaignFinished{CampaignID: r.c.ID, At: now})
	e.dropRun(r)
	r.c.Status = CampaignCompleted
	e.publishProgress(r, now)
	e.publishDurable(Event{Type: EventCampaignCompleted, At: now, TenantID: r.c.TenantID, CampaignID: r.c.ID, OwnerID: r.c.CreatedBy, Status: string(CampaignCompleted)})
}

func (e *Engine) dropRun(r *campaignRun) {
	e.board.dropRun(r.c.ID)
	e.forgetPolicy(r.c.ID)
	for _, it := range r.queue.items {
		delete(e.queued, it.TransmissionID)
	}
	delete(e.runs, r.c.ID)
	delete(e.cpmCapped, r.c.ID)
	e.runOrder = slices.DeleteFunc(e.runOrder, func(id int64) bool { return id == r.c.ID })
}

// loadRun makes a campaign run from the store: the first page of its
// pending work, its counters, and the calls of it already in flight. The
// rest of its work is read in pages as the queue runs low (refill).
func (e *Engine) loadRun(c Campaign, now time.Time) (*campaignRun, error) {
	loc := e.location(c.TZ)
	if loc == nil {
		loc = time.UTC
	}
	r := &campaignRun{c: c, loc: loc, window: c.Window(), pacer: NewPacer(e.campaignCPM(c)), counters: c.Counters}
	works, err := e.store.CampaignWork(e.loopCtx, c.ID, 0, e.campaignPage())
	if err != nil {
		return nil, err
	}
	e.addPage(r, works, now)
	heap.Init(&r.queue)
	for _, a := range e.inflight {
		if a.item.CampaignID == c.ID {
			r.inFlight++
		}
	}
	e.applyPlanCPM(r, now)
	e.runs[c.ID] = r
	e.board.setCounters(c.ID, r.counters)
	e.runOrder = append(e.runOrder, c.ID)
	e.materialize(r, now)
	return r, nil
}

// materialize creates the transmissions of a run's group that are missing
// (all but the first few thousand of a campaign just started, or those a
// crash left uncreated), a small transaction at a time off the loop, and
// counts each step into the run as it lands.
func (e *Engine) materialize(r *campaignRun, now time.Time) {
	r.materializing = true
	id, ctx := r.c.ID, e.loopCtx
	e.tasks.Add(1) // until the last step is posted
	go func() {
		defer e.tasks.Add(-1)
		var after int64
		for {
			m, err := e.store.MaterializeCampaign(ctx, id, after, now)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("engine: creating a campaign's transmissions", "campaign_id", id, "err", err)
				}
				m.Done = true // the next start (or restart) goes on from the store
			}
			e.postAsync(func() {
				if e.runs[id] != r {
					return
				}
				if m.Added > 0 {
					r.counters.Total += int64(m.Added)
					r.counters.Pending += int64(m.Added)
					r.exhausted = false // new rows above the page cursor
					r.made++
					e.publishProgress(r, e.clock.Now())
				}
				if m.Done {
					r.materializing = false
					e.checkCompleted(r, e.clock.Now())
				}
			})
			if m.Done {
				return
			}
			after = m.LastContact
		}
	}()
}

// campaignPage is how many pending transmissions of a campaign are read
// from the store at a time.
func (e *Engine) campaignPage() int { return cmp.Or(e.cfg.CampaignPage, DefaultCampaignPage) }

// DefaultCampaignPage bounds what a campaign holds in memory: a page of
// 5000 is 20 s of work at 15,000 CPM, read in a few milliseconds.
const DefaultCampaignPage = 5000

// addPage queues a page of a campaign's work, skipping what the engine
// already holds (calls in flight, retries queued).
func (e *Engine) addPage(r *campaignRun, works []Work, now time.Time) {
	for _, w := range works {
		r.cursor = max(r.cursor, w.TransmissionID)
		if _, busy := e.inflight[w.TransmissionID]; busy {
			continue
		}
		if _, held := e.queued[w.TransmissionID]; held {
			continue
		}
		w.TryAllowed = r.c.TryAllowed
		e.queueCampaignWork(r, w, now)
	}
	r.exhausted = len(works) < e.campaignPage()
}

// refill reads a campaign's next page off the loop when its queue runs
// low, or when nothing it holds may be dialed now (contacts whose window
// is closed) while the store has more, up to four pages in memory.
func (e *Engine) refill(r *campaignRun, now time.Time) {
	page := e.campaignPage()
	if r.exhausted || r.loading || now.Before(r.loadAfter) {
		return
	}
	low := r.queue.Len() < page/2
	stuck := r.queue.Len() > 0 && r.queue.peek().key.After(now) && r.queue.Len() < 4*page
	if !low && !stuck && r.queue.Len() > 0 {
		return
	}
	r.loading = true
	id, after, made := r.c.ID, r.cursor, r.made
	ctx := e.loopCtx
	e.tasks.Add(1) // the read, until its result is posted (idle waits see it)
	go func() {
		defer e.tasks.Add(-1)
		works, err := e.store.CampaignWork(ctx, id, after, page)
		e.postAsync(func() {
			r.loading = false
			if e.runs[id] != r {
				return // stopped or finished meanwhile
			}
			now := e.clock.Now()
			if err != nil {
				e.log.Error("engine: reading a campaign's next page of work", "campaign_id", id, "err", err)
				r.loadAfter = now.Add(time.Second)
				return
			}
			e.addPage(r, works, now)
			if r.made != made {
				r.exhausted = false // rows were added while this page was read
			}
			e.checkCompleted(r, now)
		})
	}()
}

func (e *Engine) startCampaign(tenantID string, id, scheduleID int64) error {
	now := e.clock.Now()
	if r, ok := e.runs[id]; ok && r.c.TenantID == tenantID {
		if scheduleID != 0 {
			return e.store.ScheduleDone(e.loopCtx, scheduleID, now)
		}
		return nil
	}
	// Everything recorded so far must be visible to the load below.
	if err := e.store.Sync(e.loopCtx); err != nil {
		e.log.Error("engine: a recorded change failed", "err", err)
	}
	if err := e.checkCredit(tenantID); err != nil {
		return err
	}
	if _, err := e.store.StartCampaign(e.loopCtx, tenantID, id, now, scheduleID); err != nil {
		return err
	}
	c, err := e.store.Campaign(e.loopCtx, tenantID, id)
	if err != nil {
		return err
	}
	r, err := e.loadRun(c, now)
	if err != nil {
		return err
	}
	e.publish(Event{Type: EventCampaignStarted, At: now, TenantID: tenantID, CampaignID: id, OwnerID: c.CreatedBy, Status: string(CampaignActive)})
	e.publishProgress(r, now)
	e.checkCompleted(r, now)
	return nil
}

func (e *Engine) stopCampaign(tenantID string, id, scheduleID int64) error {
	now := e.clock.Now()
	c, err := e.store.StopCampaign(e.loopCtx, tenantID, id, now, scheduleID)
	if err != nil {
		return err
	}
	if r, ok := e.runs[id]; ok {
		e.dropRun(r)
	}
	e.publish(Event{Type: EventCampaignStopped, At: now, TenantID: tenantID, CampaignID: id, OwnerID: c.CreatedBy, Status: string(c.Status)})
	return nil
}

func (e *Engine) reconfigure(tenantID string, id int64) error {
	r, ok := e.runs[id]
	if !ok || r.c.TenantID != tenantID {
		return nil
	}
	c, err := e.store.Campaign(e.loopCtx, tenantID, id)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	c.Counters = r.counters
	r.c = c
	e.forgetPolicy(c.ID)
	e.applyPlanCPM(r, now)
	r.window = c.Window()
	if r.loc = e.location(c.TZ); r.loc == nil {
		r.loc = time.UTC
	}
	for _, it := range r.queue.items {
		it.TryAllowed = c.TryAllowed
		it.key = e.keyFor(r, it, now)
	}
	heap.Init(&r.queue)
	return nil
}

// runSchedules runs the campaign schedules that are due.
func (e *Engine) runSchedules(now time.Time, consider func(time.Time)) {
	for e.schedules.Len() > 0 {
		s := e.schedules.items[0]
		if s.RunAt.After(now) {
			consider(s.RunAt)
			return
		}
		heap.Pop(&e.schedules)
		var err error
		switch s.Action {
		case ScheduleCampaignStart:
			err = e.startCampaign(s.TenantID, s.TargetID, s.ID)
		case ScheduleCampaignStop:
			err = e.stopCampaign(s.TenantID, s.TargetID, s.ID)
		}
		if err == nil {
			continue
		}
		e.log.Error("engine: schedule failed", "schedule", s.ID, "action", s.Action, "target", s.TargetID, "err", err)
		switch ErrorCode(err) {
		case CodeNotFound, CodeInvalid, CodeConflict:
			// It can never run: close it rather than try forever.
			if err := e.store.ScheduleDone(e.loopCtx, s.ID, now); err != nil {
				e.log.Error("engine: closing a schedule", "schedule", s.ID, "err", err)
			}
		default:
			s.RunAt = now.Add(e.cfg.RecheckInterval)
			e.schedules.push(s)
		}
	}
}

// campaignCPM is the rate c runs at: its own, within the operator's cap.
func (e *Engine) campaignCPM(c Campaign) int {
	if e.cfg.MaxCPM > 0 {
		return min(c.CPM, e.cfg.MaxCPM)
	}
	return c.CPM
}

// publishDurable publishes ev once what the engine recorded before it is
// committed, so a client that reads the campaign on the event sees what
// the event says (campaign.completed came 200 ms before GET showed it).
func (e *Engine) publishDurable(ev Event) {
	ctx := e.loopCtx
	e.tasks.Add(1)
	go func() {
		defer e.tasks.Add(-1)
		if err := e.store.Sync(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("engine: committing before an event", "event", ev.Type, "err", err)
		}
		e.postAsync(func() { e.publish(ev) })
	}()
}
