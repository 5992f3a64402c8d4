package sip

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialerd/dialerd/dialer"
)

// Trunk is a provider the gateway watches: pinged with OPTIONS, and
// registered when Register is set (the provider's register: 1).
type Trunk struct {
	Route    dialer.Route
	Register bool
}

// TrunkState is what is known of a trunk's health.
type TrunkState int

const (
	// TrunkUnknown: nothing heard yet, neither way (a new trunk, until its
	// first OPTIONS is answered or missed OptionsMisses times).
	TrunkUnknown TrunkState = iota
	// TrunkUp: the trunk answered an OPTIONS or an INVITE.
	TrunkUp
	// TrunkDown: OptionsMisses pings in a row went unanswered and no
	// INVITE was answered meanwhile.
	TrunkDown
)

func (s TrunkState) String() string {
	switch s {
	case TrunkUp:
		return "up"
	case TrunkDown:
		return "down"
	}
	return "unknown"
}

// Health is a watched trunk's state.
type Health struct {
	State TrunkState
	// Up is State == TrunkUp, for callers that only ask that.
	Up         bool
	LastChange time.Time
	// Registered is true while a registration is in force (Register
	// trunks only); RegisteredUntil is when it would lapse unrefreshed.
	Registered      bool
	RegisteredUntil time.Time
}

// HealthChange is reported to Config.OnHealth when a trunk's state changes.
type HealthChange struct {
	ProviderID int64
	State      TrunkState
	Up         bool // State == TrunkUp
	At         time.Time
}

// Bounds of one OPTIONS ping and of an un-REGISTER at shutdown.
const (
	maxPingTimeout    = 8 * time.Second
	unregisterTimeout = 3 * time.Second
	minRefresh        = 500 * time.Millisecond
	maxRegisterRetry  = time.Minute
)

// trunkMonitor runs the pings and the registration of one trunk.
type trunkMonitor struct {
	trunk  Trunk
	cancel context.CancelFunc
	done   chan struct{} // closed when the monitor has stopped
	// previous is the monitor this one replaced, for the same provider:
	// it must have unregistered before this one registers.
	previous *trunkMonitor
}

// SetTrunks replaces the set of watched trunks: trunks new to the set are
// pinged (and registered) from now on, trunks no longer in it stop being
// watched (and are unregistered), trunks whose settings changed restart.
// Every trunk is validated first; on an error nothing changes.
func (g *Gateway) SetTrunks(trunks []Trunk) error {
	want := make(map[int64]Trunk, len(trunks))
	for _, tr := range trunks {
		if _, err := g.trunkAddress(tr.Route); err != nil {
			return fmt.Errorf("sip: provider %d: %w", tr.Route.ProviderID, err)
		}
		if _, dup := want[tr.Route.ProviderID]; dup {
			return fmt.Errorf("sip: provider %d listed twice", tr.Route.ProviderID)
		}
		want[tr.Route.ProviderID] = tr
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	replaced := map[int64]*trunkMonitor{}
	for id, m := range g.trunks {
		if tr, keep := want[id]; keep && tr == m.trunk {
			continue
		}
		m.cancel()
		replaced[id] = m
		delete(g.trunks, id)
		if _, keep := want[id]; !keep {
			delete(g.health, id)
			delete(g.misses, id)
		}
	}
	now := time.Now()
	for id, tr := range want {
		if _, running := g.trunks[id]; running {
			continue
		}
		ctx, cancel := context.WithCancel(g.ctx)
		m := &trunkMonitor{trunk: tr, cancel: cancel, done: make(chan struct{}), previous: replaced[id]}
		g.trunks[id] = m
		if _, known := g.health[id]; !known {
			g.health[id] = Health{State: TrunkUnknown, LastChange: now}
			g.misses[id] = 0
		}
		g.work.Add(1)
		go g.watch(ctx, m)
	}
	return nil
}

// Health returns a watched trunk's state; ok is false for a provider that
// is not watched.
func (g *Gateway) Health(providerID int64) (h Health, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok = g.health[providerID]
	return h, ok
}

// trunkAddress validates a route for requests outside a call: the
// trunk's URI without a user, and the transport.
func (g *Gateway) trunkAddress(route dialer.Route) (outbound, error) {
	tp, err := g.transportFor(route)
	if err != nil {
		return outbound{}, err
	}
	user, err := sipUser("provider.username", route.Username)
	if err != nil {
		return outbound{}, err
	}
	uri, err := trunkURI(route, tp, "")
	if err != nil {
		return outbound{}, err
	}
	aor := sip.Uri{Scheme: "sip", User: user, Host: route.Host}
	return outbound{tp: tp, recipient: uri, from: sip.FromHeader{Address: aor}, to: sip.ToHeader{Address: aor}}, nil
}

// watch pings a trunk until ctx ends, and keeps it registered if asked.
func (g *Gateway) watch(ctx context.Context, m *trunkMonitor) {
	defer g.work.Done()
	defer close(m.done)
	if m.previous != nil {
		select {
		case <-m.previous.done:
			m.previous = nil
		case <-ctx.Done():
			return
		}
	}
	var wg sync.WaitGroup
	if m.trunk.Register {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.keepRegistered(ctx, m)
		}()
	}
	g.pingLoop(ctx, m)
	wg.Wait()
}

func (g *Gateway) pingLoop(ctx context.Context, m *trunkMonitor) {
	timeout := min(g.cfg.OptionsInterval, maxPingTimeout)
	// The first ping goes at once: until it is answered (or missed
	// OptionsMisses times) the trunk's state is unknown. A registering
	// trunk is probed by its REGISTER, and pinged from one interval on.
	first := time.Duration(0)
	if m.trunk.Register {
		first = g.cfg.OptionsInterval
	}
	next := time.NewTimer(first)
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		answered := g.ping(pctx, m.trunk.Route)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if answered {
			g.noteResponse(m.trunk.Route.ProviderID)
		} else {
			g.noteMiss(m)
		}
		next.Reset(g.cfg.OptionsInterval)
	}
}

// ping sends one OPTIONS. Any final response shows the trunk is there: a
// trunk that refuses OPTIONS (405, 403, 404) or is busy (503) still
// answers, and the engine reads an INVITE's 503 itself.
func (g *Gateway) ping(ctx context.Context, route dialer.Route) bool {
	ob, err := g.trunkAddress(route)
	if err != nil {
		return false
	}
	ob.from = sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "dialerd", Host: g.advertise.String()}, Params: sip.NewParams()}
	ob.from.Params.Add("tag", sip.GenerateTagN(16))
	ob.to = sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: route.Host}}
	ob.callID = sip.CallIDHeader(uuid.NewString())
	req := g.request(sip.OPTIONS, ob)
	req.AppendHeader(sip.HeaderClone(&ob.tp.contact))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	_, err = ob.tp.client.Do(ctx, req)
	return err == nil
}

// noteResponse records that a trunk answered something (an OPTIONS, any
// response to an INVITE): it is up, and its count of missed pings starts
// again, so a trunk that answers calls never flaps down between pings.
func (g *Gateway) noteResponse(providerID int64) {
	g.mu.Lock()
	if _, watched := g.health[providerID]; !watched {
		g.mu.Unlock()
		return
	}
	g.misses[providerID] = 0
	change, ok := g.setStateLocked(providerID, TrunkUp)
	g.mu.Unlock()
	if ok {
		g.reportChange(change)
	}
}

// noteMiss records an unanswered ping of m's trunk; OptionsMisses in a row
// mark it down.
func (g *Gateway) noteMiss(m *trunkMonitor) {
	id := m.trunk.Route.ProviderID
	g.mu.Lock()
	if g.trunks[id] != m { // removed or replaced meanwhile
		g.mu.Unlock()
		return
	}
	g.misses[id]++
	var change HealthChange
	ok := false
	if g.misses[id] >= g.cfg.OptionsMisses {
		change, ok = g.setStateLocked(id, TrunkDown)
	}
	g.mu.Unlock()
	if ok {
		g.reportChange(change)
	}
}

// setStateLocked sets a watched trunk's state; ok says it changed.
func (g *Gateway) setStateLocked(id int64, state TrunkState) (HealthChange, bool) {
	h, watched := g.health[id]
	if !watched || h.State == state {
		return HealthChange{}, false
	}
	now := time.Now()
	h.State, h.Up, h.LastChange = state, state == TrunkUp, now
	g.health[id] = h
	return HealthChange{ProviderID: id, State: state, Up: state == TrunkUp, At: now}, true
}

// reportChange logs a change once and tells whoever listens; called
// without g.mu held.
func (g *Gateway) reportChange(c HealthChange) {
	g.log.Info("trunk health changed", "provider_id", c.ProviderID, "state", c.State.String())
	if g.cfg.OnHealth != nil {
		g.cfg.OnHealth(c)
	}
	if c.State == TrunkUp && g.cfg.OnRouteUp != nil {
		g.cfg.OnRouteUp(dialer.RouteUp{ProviderID: c.ProviderID})
	}
}

func (g *Gateway) setRegistered(m *trunkMonitor, until time.Time) {
	id := m.trunk.Route.ProviderID
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.trunks[id] != m {
		return
	}
	h := g.health[id]
	h.Registered, h.RegisteredUntil = !until.IsZero(), until
	g.health[id] = h
}

// registration is one binding's dialog-like state: RFC 3261 10.2 wants the
// same Call-ID and a growing CSeq for every refresh.
type registration struct {
	callID sip.CallIDHeader
	tag    string
	cseq   uint32
}

// keepRegistered registers, refreshes at three quarters of the granted
// expiry, retries failures with back-off, and unregisters when ctx ends.
func (g *Gateway) keepRegistered(ctx context.Context, m *trunkMonitor) {
	reg := &registration{callID: sip.CallIDHeader(uuid.NewString()), tag: sip.GenerateTagN(16)}
	retry := min(g.cfg.OptionsInterval, maxRegisterRetry)
	registered := false
	for {
		granted, err := g.register(ctx, m.trunk.Route, reg, g.cfg.RegisterExpiry)
		wait := retry
		switch {
		case ctx.Err() != nil:
		case err != nil:
			g.log.Warn("register", "provider_id", m.trunk.Route.ProviderID, "err", err)
			registered = false
			g.setRegistered(m, time.Time{})
			retry = min(2*retry, maxRegisterRetry)
		default:
			registered = true
			g.setRegistered(m, time.Now().Add(granted))
			retry = min(g.cfg.OptionsInterval, maxRegisterRetry)
			wait = max(granted*3/4, minRefresh)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if registered {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unregisterTimeout)
				if _, err := g.register(uctx, m.trunk.Route, reg, 0); err != nil {
					g.log.Debug("unregister", "provider_id", m.trunk.Route.ProviderID, "err", err)
				}
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// register sends REGISTER (answering a digest challenge) and returns the
// expiry the registrar granted. expires 0 removes the binding.
func (g *Gateway) register(ctx context.Context, route dialer.Route, reg *registration, expires time.Duration) (time.Duration, error) {
	ob, err := g.trunkAddress(route)
	if err != nil {
		return 0, err
	}
	ob.from.Params = sip.NewParams()
	ob.from.Params.Add("tag", reg.tag)
	ob.callID = reg.callID
	req := g.request(sip.REGISTER, ob)
	reg.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: reg.cseq, MethodName: sip.REGISTER})
	contact := sip.ContactHeader{Address: ob.tp.contact.Address}
	if route.Username != "" {
		contact.Address.User = ob.from.Address.User
	}
	req.AppendHeader(&contact)
	seconds := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&seconds)

	res, err := ob.tp.client.Do(ctx, req)
	if err == nil {
		g.noteResponse(route.ProviderID) // any answer shows the trunk is there
	}
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && route.Password != "" {
		res, err = ob.tp.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: route.Username, Password: route.Password})
		reg.cseq = req.CSeq().SeqNo // the retry used the next CSeq
	}
	if err != nil {
		return 0, fmt.Errorf("register: %w", err)
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("register: %d %s", res.StatusCode, res.Reason)
	}
	return grantedExpiry(res, expires), nil
}

// grantedExpiry reads the registrar's expiry: the Contact's expires
// parameter, else the Expires header, else what we asked.
func grantedExpiry(res *sip.Response, asked time.Duration) time.Duration {
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}
