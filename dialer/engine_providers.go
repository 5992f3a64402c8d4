package dialer

import (
	"context"
	"time"
)

// providerState is what the engine knows of a provider while it runs:
// its caps' recent history, its channels in use and its back-off.
type providerState struct {
	info         ProviderInfo
	route        Route
	routed       bool // route resolved
	cps          *RateCap
	cpsLimit     int
	channels     int
	backoffUntil time.Time
	failures     int     // in a row
	current      float64 // smooth weighted round robin
}

type tenantProviders struct {
	list     []*providerState
	loadedAt time.Time
	loaded   bool
	reading  bool // a refresh runs off the loop
	changed  bool // the read running (or next) follows a ConfigChanged: it releases blocked campaigns
	again    bool // ConfigChanged while a read ran: read once more after it
}

// capacity holds every cap the engine enforces.
type capacity struct {
	cfg       *EngineConfig
	providers map[int64]*providerState
	tenants   map[string]*tenantProviders
	nodes     map[string]*RateCap
	channels  map[string]int // by tenant
}

func newCapacity(cfg *EngineConfig) capacity {
	return capacity{cfg: cfg, providers: map[int64]*providerState{}, tenants: map[string]*tenantProviders{},
		nodes: map[string]*RateCap{}, channels: map[string]int{}}
}

func (p *providerState) channelLimit(cfg *EngineConfig) int {
	if p.info.Channels > 0 {
		return p.info.Channels
	}
	return cfg.ProviderChannels
}

// provider returns the state of a provider, creating it on first sight.
func (c *capacity) provider(info ProviderInfo) *providerState {
	p, ok := c.providers[info.ID]
	if !ok {
		p = &providerState{}
		c.providers[info.ID] = p
	}
	p.info = info
	limit := info.CPS
	if limit <= 0 {
		limit = c.cfg.ProviderCPS
	}
	switch {
	case p.cps == nil:
		p.cps = NewRateCap(limit)
	case limit != p.cpsLimit:
		p.cps = p.cps.Resize(limit)
	}
	p.cpsLimit = limit
	return p
}

func (c *capacity) node(name string) *RateCap {
	if name == "" {
		return nil
	}
	r, ok := c.nodes[name]
	if !ok {
		r = NewRateCap(c.cfg.NodeCPS)
		c.nodes[name] = r
	}
	return r
}

// providersOf returns the tenant's active providers. The first read is
// made at once; after that they are re-read every ProviderRefresh (or
// after ConfigChanged) off the loop, so a slow store never holds up
// dialing, and the loop goes on with the list it has until the new one is
// in.
func (e *Engine) providersOf(tenantID string, now time.Time) []*providerState {
	tp, ok := e.caps.tenants[tenantID]
	if !ok {
		tp = &tenantProviders{}
		e.caps.tenants[tenantID] = tp
	}
	switch {
	case !tp.loaded:
		rd, err := e.readProviders(e.loopCtx, tenantID)
		e.applyProviders(tenantID, tp, rd, err, now)
	case now.Sub(tp.loadedAt) >= e.cfg.ProviderRefresh:
		e.refreshAside(tenantID, tp)
	}
	return tp.list
}

// providerRead is a tenant's providers and their routes as read from the
// store, outside the loop.
type providerRead struct {
	infos  []ProviderInfo
	routes map[int64]Route
	errs   map[int64]error
}

// readProviders touches no engine state: it may run off the loop.
func (e *Engine) readProviders(ctx context.Context, tenantID string) (providerRead, error) {
	infos, err := e.routes.Providers(ctx, tenantID)
	if err != nil {
		return providerRead{}, err
	}
	rd := providerRead{infos: infos, routes: make(map[int64]Route, len(infos)), errs: map[int64]error{}}
	for _, info := range infos {
		r, err := e.routes.Route(ctx, tenantID, info.ID)
		if err != nil {
			rd.errs[info.ID] = err
			continue
		}
		rd.routes[info.ID] = r
	}
	return rd, nil
}

// applyProviders installs a read on the loop, and releases the tenant's
// blocked campaigns when a configuration change asked for it.
func (e *Engine) applyProviders(tenantID string, tp *tenantProviders, rd providerRead, err error, now time.Time) {
	tp.loaded, tp.loadedAt = true, now
	if err != nil {
		e.log.Error("engine: reading providers; keeping the last list", "tenant", tenantID, "err", err)
		return
	}
	tp.list = tp.list[:0]
	for _, info := range rd.infos {
		p := e.caps.provider(info)
		r, ok := rd.routes[info.ID]
		if !ok {
			e.log.Error("engine: resolving a provider; skipping it", "provider", info.ID, "err", rd.errs[info.ID])
			continue
		}
		p.route, p.routed = r, true
		tp.list = append(tp.list, p)
	}
	if tp.changed {
		tp.changed = false
		clear(e.media)
		for _, r := range e.runs {
			if r.c.TenantID == tenantID && r.blocked != nil {
				e.unblock(r, now)
			}
		}
	}
}

// refreshAside re-reads a tenant's providers in a goroutine; a change
// that comes in while a read runs is read again after it.
func (e *Engine) refreshAside(tenantID string, tp *tenantProviders) {
	if tp.reading {
		return
	}
	tp.reading = true
	e.tasks.Add(1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.tasks.Add(-1)
		rd, err := e.readProviders(e.loopCtx, tenantID)
		e.post(func() {
			tp.reading = false
			if e.loopCtx.Err() != nil {
				return
			}
			e.applyProviders(tenantID, tp, rd, err, e.clock.Now())
			if tp.again {
				tp.again, tp.changed = false, true
				e.refreshAside(tenantID, tp)
			}
		})
	}()
}

// pickProvider chooses, among the tenant's providers of the service that
// have capacity now, by smooth weighted round robin with shares inverse to
// weight (lighter is used more often). Without one it returns nil and when
// capacity may appear (zero: when a call ends), and none is true when no
// active provider of the tenant serves the service at all.
func (e *Engine) pickProvider(tenantID string, service int, now time.Time) (*providerState, time.Time, bool) {
	p, retry, none, _ := e.pickProviderWhere(tenantID, service, now, nil)
	return p, retry, none
}

// pickProviderWhere is pickProvider over the providers that refuse
// returns "" for (nil: all). refused is the first provider refused, set
// only when every provider of the service refused.
func (e *Engine) pickProviderWhere(tenantID string, service int, now time.Time, refuse func(*providerState) string) (best *providerState, retry time.Time, none bool, refused string) {
	accepted := false
	later := func(t time.Time) {
		if t.After(now) && (retry.IsZero() || t.Before(retry)) {
			retry = t
		}
	}
	var eligible []*providerState
	var total float64
	known := false
	for _, p := range e.providersOf(tenantID, now) {
		if p.info.Services&service == 0 {
			continue
		}
		known = true
		if refuse != nil {
			if why := refuse(p); why != "" {
				if refused == "" {
					refused = why
				}
				continue
			}
		}
		accepted = true
		if now.Before(p.backoffUntil) {
			later(p.backoffUntil)
			continue
		}
		if p.channels >= p.channelLimit(&e.cfg) {
			continue
		}
		if !p.cps.Allows(now) {
			later(p.cps.Next(now))
			continue
		}
		if n := e.caps.node(p.route.Node); n != nil && !n.Allows(now) {
			later(n.Next(now))
			continue
		}
		eligible = append(eligible, p)
		total += share(p.info.Weight)
	}
	if !known {
		return nil, now.Add(e.cfg.ProviderRefresh), true, "" // none configured: look again later
	}
	if !accepted {
		return nil, now.Add(e.cfg.ProviderRefresh), false, refused
	}
	if len(eligible) == 0 {
		return nil, retry, false, ""
	}
	for _, p := range eligible {
		p.current += share(p.info.Weight)
		if best == nil || p.current > best.current {
			best = p
		}
	}
	best.current -= total
	return best, time.Time{}, false, ""
}

// share is a provider's part of the traffic: inverse to its weight.
func share(weight int) float64 { return 1 / float64(max(weight, 1)) }

// reserve takes a channel and a session of the provider and of the node
// the attempt was placed on.
func (e *Engine) reserve(p *providerState, tenantID, node string, now time.Time) {
	p.channels++
	e.caps.channels[tenantID]++
	p.cps.Take(now)
	if n := e.caps.node(node); n != nil {
		n.Take(now)
	}
}

func (e *Engine) release(p *providerState, tenantID string) {
	if p != nil {
		p.channels--
	}
	e.caps.channels[tenantID]--
}

// providerFailed skips a provider for a back-off that doubles with each
// failure in a row.
func (e *Engine) providerFailed(p *providerState, now time.Time) {
	p.failures++
	d := e.cfg.ProviderBackoff
	for i := 1; i < p.failures && d < e.cfg.ProviderBackoffMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.ProviderBackoffMax)
	p.backoffUntil = now.Add(d)
	e.log.Warn("engine: route failing; skipping it", "provider", p.info.ID, "name", p.info.Name, "for", d, "failures", p.failures)
}
