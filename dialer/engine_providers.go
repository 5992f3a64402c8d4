package dialer

import (
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

// providersOf returns the tenant's active providers, re-read from the
// store every ProviderRefresh.
func (e *Engine) providersOf(tenantID string, now time.Time) []*providerState {
	tp, ok := e.caps.tenants[tenantID]
	if ok && now.Sub(tp.loadedAt) < e.cfg.ProviderRefresh {
		return tp.list
	}
	if !ok {
		tp = &tenantProviders{}
		e.caps.tenants[tenantID] = tp
	}
	tp.loadedAt = now
	infos, err := e.routes.Providers(e.loopCtx, tenantID)
	if err != nil {
		e.log.Error("engine: reading providers; keeping the last list", "tenant", tenantID, "err", err)
		return tp.list
	}
	tp.list = tp.list[:0]
	for _, info := range infos {
		p := e.caps.provider(info)
		r, err := e.routes.Route(e.loopCtx, tenantID, info.ID)
		if err != nil {
			e.log.Error("engine: resolving a provider; skipping it", "provider", info.ID, "err", err)
			continue
		}
		p.route, p.routed = r, true
		tp.list = append(tp.list, p)
	}
	return tp.list
}

// pickProvider chooses, among the tenant's providers of the service that
// have capacity now, by smooth weighted round robin with shares inverse to
// weight (lighter is used more often). Without one it returns nil and when
// capacity may appear (zero: when a call ends), and none is true when no
// active provider of the tenant serves the service at all.
func (e *Engine) pickProvider(tenantID string, service int, now time.Time) (*providerState, time.Time, bool) {
	var retry time.Time
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
		return nil, now.Add(e.cfg.ProviderRefresh), true // none configured: look again later
	}
	if len(eligible) == 0 {
		return nil, retry, false
	}
	var best *providerState
	for _, p := range eligible {
		p.current += share(p.info.Weight)
		if best == nil || p.current > best.current {
			best = p
		}
	}
	best.current -= total
	return best, time.Time{}, false
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
