package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// EngineConfig tunes the spool engine. Zero fields take the defaults of
// DefaultEngineConfig.
type EngineConfig struct {
	RingTimeout time.Duration // an unanswered call is given up after this long
	MaxDuration time.Duration // an answered call is hung up after this long
	// RetryDelay spaces the tries of a single transmission (campaigns have
	// their own retry_delay).
	RetryDelay time.Duration
	// Caps that are never exceeded. A provider's own settings ({"cps": N,
	// "channels": N}) override the provider defaults.
	ProviderCPS      int // originations per second per provider
	NodeCPS          int // originations per second per FreeSWITCH node
	ProviderChannels int // concurrent calls per provider
	TenantChannels   int // concurrent calls per tenant
	// CampaignPage is how many of a campaign's pending transmissions are
	// read at a time (DefaultCampaignPage when 0).
	CampaignPage int
	// MaxCPM caps every campaign's calls per minute (the API refuses more;
	// a campaign stored before the cap was lowered runs at the cap).
	MaxCPM int
	// ProviderBackoff is how long a failing provider is skipped; it
	// doubles with each failure in a row up to ProviderBackoffMax.
	ProviderBackoff    time.Duration
	ProviderBackoffMax time.Duration
	// ProviderRefresh is how often provider lists, routes and program
	// media are re-read from the store.
	ProviderRefresh time.Duration
	// RecheckInterval is how often recovery asks again about a call whose
	// state the gateway could not tell.
	RecheckInterval time.Duration
	// SendWait bounds how long Send waits for capacity before answering
	// that the transmission is queued. It is the one wall-clock bound of
	// the engine: it limits an HTTP request, not dialing.
	SendWait time.Duration
}

// DefaultEngineConfig is the configuration the daemon starts from.
func DefaultEngineConfig() EngineConfig {
	return EngineConfig{
		RingTimeout:        30 * time.Second,
		MaxDuration:        10 * time.Minute,
		RetryDelay:         5 * time.Minute,
		ProviderCPS:        10,
		NodeCPS:            30,
		ProviderChannels:   30,
		TenantChannels:     100,
		MaxCPM:             DefaultMaxCPM,
		ProviderBackoff:    2 * time.Second,
		ProviderBackoffMax: 5 * time.Minute,
		ProviderRefresh:    10 * time.Second,
		RecheckInterval:    5 * time.Second,
		SendWait:           10 * time.Second,
	}
}

func (c *EngineConfig) fill() {
	d := DefaultEngineConfig()
	set := func(dst *time.Duration, def time.Duration) {
		if *dst <= 0 {
			*dst = def
		}
	}
	seti := func(dst *int, def int) {
		if *dst <= 0 {
			*dst = def
		}
	}
	set(&c.RingTimeout, d.RingTimeout)
	set(&c.MaxDuration, d.MaxDuration)
	set(&c.RetryDelay, d.RetryDelay)
	seti(&c.ProviderCPS, d.ProviderCPS)
	seti(&c.NodeCPS, d.NodeCPS)
	seti(&c.ProviderChannels, d.ProviderChannels)
	seti(&c.TenantChannels, d.TenantChannels)
	set(&c.ProviderBackoff, d.ProviderBackoff)
	set(&c.ProviderBackoffMax, d.ProviderBackoffMax)
	set(&c.ProviderRefresh, d.ProviderRefresh)
	set(&c.RecheckInterval, d.RecheckInterval)
	set(&c.SendWait, d.SendWait)
}

// EngineDeps are the parts the engine works with.
type EngineDeps struct {
	Store  EngineStore
	Routes RouteSource
	// Gateway delivers attempts; nil means none is configured: work stays
	// queued and nothing is dialled. It may also implement Placer and
	// Recoverer, which dispatch and recovery use.
	Gateway Gateway
	Clock   Clock     // SystemClock when nil
	Events  Publisher // may be nil
	Log     *slog.Logger
	// Compliance, when set, scrubs every attempt against DNC (the store
	// keeps it in step), applies calling hours by the called party and the
	// redial limit, and records opt-outs. DNC nil: an empty set.
	Compliance ComplianceStore
	DNC        *DNCSet
	// Plans are the tenants' plan limits and prepaid credit
	// (engine_plans.go); nil: none.
	Plans PlanSource
}

// EngineStats are running totals, safe to read at any time.
type EngineStats struct {
	Attempts  int64 // attempts committed (spools created)
	Recovered int64 // spools a previous run left open, handed to their gateway
	Ended     int64 // attempts ended and recorded, recovered ones included
	InFlight  int64 // attempts handed to the gateway and not ended: left to recovery at a stop
}

// Engine is the spool engine: it turns queued transmissions and running
// campaigns into attempts, paced, capped, retried and recorded.
//
// One goroutine (the loop) owns all its state; everything else — API
// calls, attempt goroutines, timers — hands it closures through inbox.
// Attempt goroutines write ahead (the spool is committed before the
// gateway is asked) and report back to the loop.
type Engine struct {
	cfg    EngineConfig
	store  EngineStore
	routes RouteSource
	gw     Gateway
	placer Placer
	recov  Recoverer
	board  runBoard
	clock  Clock
	events Publisher
	log    *slog.Logger
	comp   *engineCompliance // nil: no compliance rules

	inbox    chan func()
	loopCtx  context.Context
	stopLoop context.CancelFunc
	loopDone chan struct{}
	callCtx  context.Context // attempts; cancelled when the grace period is over
	endCalls context.CancelFunc
	wg       sync.WaitGroup // attempt and check goroutines
	started  atomic.Bool
	stopping atomic.Bool

	// tasks counts the engine's live goroutines other than the loop, plus
	// closures posted to the loop and not yet handled. A test with a fake
	// clock advances time only when every task waits on that clock.
	tasks      atomic.Int64
	behindFrom atomic.Int64 // unix ns the loop owes work from (see Behind); 0: none
	attempts   atomic.Int64
	recoveredN atomic.Int64
	ended      atomic.Int64

	// Loop-owned state.
	singles   workHeap               // queued single transmissions, by due time
	queued    map[int64]*workItem    // every queued item, singles and campaigns, by transmission
	runs      map[int64]*campaignRun // running campaigns
	runOrder  []int64                // round robin over runs
	rr        int                    // where the next round starts
	inflight  map[int64]*attempt     // by transmission
	waiters   map[int64][]chan sendResult
	caps      capacity               // providers, nodes, tenants
	media     map[int64]*cachedMedia // by program
	schedules scheduleHeap           // campaign start/stop schedules
	locs      map[string]*time.Location
	draining  bool
	recovered bool          // recovery is over: state changes go to the queues directly
	idle      chan struct{} // closed when draining and nothing is in flight
	wake      Timer
	wakeAt    time.Time
	// engine_plans.go
	plansrc   PlanSource
	plans     map[string]*planState // by tenant
	cpmCapped map[int64]int         // running campaigns the plan slows: their CPM
}

type sendResult struct {
	spoolID int64
	err     error
}

// NewEngine prepares an engine; Start runs it.
func NewEngine(cfg EngineConfig, deps EngineDeps) (*Engine, error) {
	if deps.Store == nil || deps.Routes == nil {
		return nil, errors.New("dialer: the engine needs a store and a route source")
	}
	cfg.fill()
	e := &Engine{
		cfg:      cfg,
		store:    deps.Store,
		routes:   deps.Routes,
		gw:       deps.Gateway,
		clock:    deps.Clock,
		events:   deps.Events,
		log:      deps.Log,
		inbox:    make(chan func(), 1024),
		loopDone: make(chan struct{}),
		idle:     make(chan struct{}),
		queued:   map[int64]*workItem{},
		runs:     map[int64]*campaignRun{},
		inflight: map[int64]*attempt{},
		waiters:  map[int64][]chan sendResult{},
		media:    map[int64]*cachedMedia{},
		locs:     map[string]*time.Location{},
		plansrc:  deps.Plans,
	}
	e.caps = newCapacity(&e.cfg)
	e.comp = newEngineCompliance(deps.Compliance, deps.DNC)
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.gw != nil {
		e.placer, _ = e.gw.(Placer)
		e.recov, _ = e.gw.(Recoverer)
	}
	return e, nil
}

// Tasks is the number of the engine's goroutines and queued events that
// are not waiting for time to pass or for a call: 0 plus the calls waiting
// on the clock means the engine is idle. Tests with a fake clock use it.
func (e *Engine) Tasks() int64 { return e.tasks.Load() }

// Stats returns running totals.
func (e *Engine) Stats() EngineStats {
	// Ended is read first: an attempt that ends meanwhile is then still
	// counted in flight, never below zero.
	d := e.ended.Load()
	a := e.attempts.Load()
	r := e.recoveredN.Load()
	return EngineStats{Attempts: a, Recovered: r, Ended: d, InFlight: a + r - d}
}

// Start reconciles what a previous run left (spools still initiated,
// transmissions left processing), loads queued work, running campaigns
// and schedules, and starts dialing. It returns once recovery is recorded.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("dialer: engine already started")
	}
	e.loopCtx, e.stopLoop = context.WithCancel(context.Background())
	e.callCtx, e.endCalls = context.WithCancel(context.Background())
	e.tasks.Add(1) // the loop, until its first wait
	err := e.loadCompliance(ctx)
	if err == nil {
		err = e.recover(ctx)
	}
	if err != nil {
		// Nothing was dialled; calls re-attached so far are let go (their
		// spools stay initiated for a new engine to reconcile).
		e.stopping.Store(true)
		e.endCalls()
		e.wg.Wait()
		e.tasks.Add(-1)
		e.stopLoop()
		close(e.loopDone)
		return err
	}
	e.recovered = true
	go e.loop()
	return nil
}

// Stop stops taking new attempts, waits until the calls in flight end or
// ctx is done (the grace period), then abandons the rest: their spools
// stay initiated for the next start to reconcile. Every change is
// committed when Stop returns.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() || !e.stopping.CompareAndSwap(false, true) {
		return nil
	}
	_ = e.Drain(context.Background())
	select {
	case <-e.idle:
	case <-ctx.Done():
		e.log.Warn("engine: grace period over; leaving calls in flight to recovery", "in_flight", e.Stats().InFlight)
	}
	e.endCalls()
	e.wg.Wait()
	// Let the loop record what the last attempts reported, then stop it.
	_ = e.do(context.Background(), func() error { return nil })
	e.stopLoop()
	<-e.loopDone
	for id, ws := range e.waiters {
		for _, w := range ws {
			w <- sendResult{err: NotReady("the engine stopped before the attempt started")}
		}
		delete(e.waiters, id)
	}
	syncCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.store.Sync(syncCtx)
}

// Drain stops taking new attempts (and running schedules) at once; calls
// in flight go on. Stop drains first; a daemon may drain earlier, e.g. as
// soon as it is told to stop.
func (e *Engine) Drain(ctx context.Context) error {
	return e.do(ctx, func() error {
		e.draining = true
		e.checkIdle()
		return nil
	})
}

// post hands fn to the loop; false when the loop has stopped.
func (e *Engine) post(fn func()) bool {
	e.tasks.Add(1)
	select {
	case e.inbox <- fn:
		return true
	case <-e.loopDone:
		e.tasks.Add(-1)
		return false
	}
}

// postAsync hands fn to the loop without waiting for room in its inbox:
// for callers that must never block on the engine (API handlers,
// gateways' callbacks).
func (e *Engine) postAsync(fn func()) {
	e.tasks.Add(1)
	select {
	case e.inbox <- fn:
		return
	default:
	}
	go func() {
		select {
		case e.inbox <- fn:
		case <-e.loopDone:
			e.tasks.Add(-1)
		}
	}()
}

// do runs fn on the loop and returns its error.
func (e *Engine) do(ctx context.Context, fn func() error) error {
	if !e.started.Load() {
		return NotReady("the engine is not running")
	}
	done := make(chan error, 1)
	if !e.post(func() { done <- fn() }) {
		return NotReady("the engine has stopped")
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) loop() {
	defer close(e.loopDone)
	e.dispatch()
	e.tasks.Add(-1)
	for {
		select {
		case fn := <-e.inbox:
			fn()
			n := int64(1)
			// Take whatever else has arrived before dispatching once.
		more:
			for n < 256 {
				select {
				case fn := <-e.inbox:
					fn()
					n++
				default:
					break more
				}
			}
			e.dispatch()
			e.tasks.Add(-n)
		case <-e.loopCtx.Done():
			if e.wake != nil {
				e.wake.Stop()
			}
			return
		}
	}
}

// armWake makes sure the loop wakes at next (zero: no timer needed).
func (e *Engine) armWake(now, next time.Time) {
	if next.Equal(e.wakeAt) && e.wake != nil {
		return
	}
	if e.wake != nil {
		e.wake.Stop()
		e.wake = nil
	}
	e.wakeAt = next
	if next.IsZero() {
		return
	}
	d := max(next.Sub(now), time.Microsecond)
	e.wake = e.clock.AfterFunc(d, func() {
		e.post(func() {
			// The timer has fired: the next dispatch arms a new one.
			e.wake, e.wakeAt = nil, time.Time{}
		})
	})
}

func (e *Engine) checkIdle() {
	if e.draining && len(e.inflight) == 0 {
		select {
		case <-e.idle:
		default:
			close(e.idle)
		}
	}
}

func (e *Engine) publish(ev Event) {
	if e.events == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = e.clock.Now()
	}
	e.events.Publish(ev)
}

// location resolves an IANA name once; nil when unknown.
func (e *Engine) location(name string) *time.Location {
	if name == "" {
		return nil
	}
	loc, ok := e.locs[name]
	if !ok {
		var err error
		if loc, err = time.LoadLocation(name); err != nil {
			loc = nil
		}
		e.locs[name] = loc
	}
	return loc
}

// Send queues a pending single transmission for now and waits until its
// attempt is committed (write-ahead), not until the call ends, and returns
// the spool id. When there is no capacity within SendWait, it answers not
// ready: the transmission stays queued and is attempted when capacity frees.
func (e *Engine) Send(ctx context.Context, tenantID string, id int64) (int64, error) {
	return e.send(ctx, tenantID, id, false)
}

// Retry allows one more try of a failed or invalid single transmission and
// sends it as Send does.
func (e *Engine) Retry(ctx context.Context, tenantID string, id int64) (int64, error) {
	return e.send(ctx, tenantID, id, true)
}

func (e *Engine) send(ctx context.Context, tenantID string, id int64, retry bool) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.SendWait)
	defer cancel()
	reply := make(chan sendResult, 1)
	err := e.do(ctx, func() error {
		if e.draining {
			return NotReady("the engine is stopping")
		}
		if e.gw == nil {
			return NotReady("no gateway is configured")
		}
		if err := e.noCredit(tenantID); err != nil {
			return err
		}
		w, err := e.singleFor(tenantID, id)
		if err != nil {
			return err
		}
		now := e.clock.Now()
		if retry {
			if err := e.store.RetryTransmission(e.loopCtx, tenantID, id, now); err != nil {
				return err
			}
			if w, _, err = e.store.WorkOf(e.loopCtx, tenantID, id); err != nil {
				return err
			}
		} else {
			if _, err := e.store.QueueTransmission(e.loopCtx, tenantID, id, now, 0); err != nil {
				return err
			}
		}
		w.Due = now
		e.queueSingle(w)
		e.waiters[id] = append(e.waiters[id], reply)
		e.holdSingleQueued(e.queued[id], now)
		return nil
	})
	if err != nil {
		return 0, err
	}
	select {
	case r := <-reply:
		return r.spoolID, r.err
	case <-ctx.Done():
		return 0, NotReady("queued: no capacity to start it now; it starts as soon as there is")
	}
}

// singleFor reads a transmission that Send, Retry or a schedule may act
// on: a single one (not a campaign's), not being attempted.
func (e *Engine) singleFor(tenantID string, id int64) (Work, error) {
	w, st, err := e.store.WorkOf(e.loopCtx, tenantID, id)
	if err != nil {
		return w, err
	}
	if w.CampaignID != 0 {
		return w, Conflict(fmt.Sprintf("the transmission belongs to campaign %d; start or stop the campaign", w.CampaignID))
	}
	if _, busy := e.inflight[id]; busy || st == TransmissionProcessing {
		return w, Conflict("the transmission is being attempted now")
	}
	if _, ok := ServiceOf(w.Program); !ok {
		return w, InvalidField("program_id", "a "+string(w.Program)+" program receives; it cannot be sent")
	}
	return w, nil
}

// ScheduleTransmission queues a pending single transmission for at and
// records the schedule; it returns the schedule id.
func (e *Engine) ScheduleTransmission(ctx context.Context, tenantID string, createdBy, id int64, at time.Time) (int64, error) {
	var sid int64
	err := e.do(ctx, func() error {
		w, err := e.singleFor(tenantID, id)
		if err != nil {
			return err
		}
		if sid, err = e.store.QueueTransmission(e.loopCtx, tenantID, id, at, createdBy); err != nil {
			return err
		}
		w.Due = at
		e.queueSingle(w)
		return nil
	})
	return sid, err
}

// UnscheduleTransmission cancels a transmission's schedule and queue.
func (e *Engine) UnscheduleTransmission(ctx context.Context, tenantID string, id int64) error {
	return e.do(ctx, func() error {
		if err := e.store.UnqueueTransmission(e.loopCtx, tenantID, id); err != nil {
			return err
		}
		if it, ok := e.queued[id]; ok && it.CampaignID == 0 {
			e.singles.remove(it)
			delete(e.queued, id)
		}
		return nil
	})
}

// StartCampaign starts (or resumes) a campaign.
func (e *Engine) StartCampaign(ctx context.Context, tenantID string, id int64) error {
	return e.do(ctx, func() error { return e.startCampaign(tenantID, id, 0) })
}

// StopCampaign stops a campaign: nothing new is dialled; calls in flight
// end normally and what remains stays pending for the next start.
func (e *Engine) StopCampaign(ctx context.Context, tenantID string, id int64) error {
	return e.do(ctx, func() error { return e.stopCampaign(tenantID, id, 0) })
}

// CampaignChanged applies a saved campaign's new settings (cpm, tries,
// retry delay, window) to it while it runs.
func (e *Engine) CampaignChanged(ctx context.Context, tenantID string, id int64) error {
	return e.do(ctx, func() error { return e.reconfigure(tenantID, id) })
}

// ScheduleCampaign records a start or stop of a campaign at a time and
// returns the schedule id. A time in the past runs at once.
func (e *Engine) ScheduleCampaign(ctx context.Context, tenantID string, createdBy, id int64, action string, at time.Time) (int64, error) {
	if action != ScheduleCampaignStart && action != ScheduleCampaignStop {
		return 0, fmt.Errorf("dialer: unknown campaign schedule %q", action)
	}
	var sid int64
	err := e.do(ctx, func() error {
		if _, err := e.store.Campaign(e.loopCtx, tenantID, id); err != nil {
			return err
		}
		s := Schedule{TenantID: tenantID, CreatedBy: createdBy, Action: action, TargetID: id, RunAt: at}
		var err error
		if s.ID, err = e.store.AddSchedule(e.loopCtx, s); err != nil {
			return err
		}
		sid = s.ID
		e.schedules.push(s)
		return nil
	})
	return sid, err
}

// UnscheduleCampaign cancels every open schedule of a campaign.
func (e *Engine) UnscheduleCampaign(ctx context.Context, tenantID string, id int64) error {
	return e.do(ctx, func() error {
		ids, err := e.store.DropSchedules(e.loopCtx, tenantID, []string{ScheduleCampaignStart, ScheduleCampaignStop}, id)
		if err != nil {
			return err
		}
		for _, sid := range ids {
			e.schedules.drop(sid)
		}
		return nil
	})
}
