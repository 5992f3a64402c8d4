package esl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// errNotConnected is a node's state before its first connection.
var errNotConnected = errors.New("not connected yet")

// node is one FreeSWITCH: one persistent connection (reconnected with
// back-off), the calls following events on it, and its capacity caps.
type node struct {
	g      *Gateway
	id     string
	cfg    dialer.FreeSwitchNode // Password never logged
	local  bool                  // on this host: media by path
	slots  *slots
	pace   *pacer
	cancel context.CancelFunc // stops run
	done   chan struct{}      // closed when run returns
	// forgetQ holds the calls whose records are to be removed, off the
	// attempts' path (see forget).
	forgetQ chan string

	mu       sync.Mutex
	conn     *conn         // nil while down
	downErr  error         // why it is down
	changed  chan struct{} // closed and replaced at each up/down change
	draining bool
	stopping string           // FreeSWITCH announced its shutdown (Event-Info); cleared on connect
	calls    map[string]*call // by channel UUID
	jobs     map[string]*call // by Job-UUID
	active   int              // attempts in flight (Deliver and Reattach)
	avmd     avmd             // mod_avmd loaded, asked at each connect (amd.go)

	inbound inboundCalls // parked fax calls being received (inbound.go)
}

func newNode(g *Gateway, cfg dialer.FreeSwitchNode) *node {
	n := &node{
		g:       g,
		id:      cfg.ID,
		cfg:     cfg,
		local:   isLocalHost(cfg.Host),
		slots:   newSlots(cfg.MaxSessions),
		pace:    newPacer(cfg.SessionsPerSecond),
		done:    make(chan struct{}),
		forgetQ: make(chan string, forgetQueue),
		downErr: errNotConnected,
		changed: make(chan struct{}),
		calls:   map[string]*call{},
		jobs:    map[string]*call{},
	}
	return n
}

// isLocalHost reports whether a node runs on this host, so that it can
// read media files by path.
func isLocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (n *node) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	n.cancel = cancel
	forgetting := make(chan struct{})
	go n.forgetter(ctx, forgetting)
	go func() {
		n.run(ctx)
		<-forgetting
		close(n.done)
	}()
}

func (n *node) addr() string {
	return net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.Port))
}

// run keeps one connection up until ctx is done: connect, watch with a
// heartbeat, and after a failure wait a capped exponential back-off with
// jitter before connecting again.
func (n *node) run(ctx context.Context) {
	opts := &n.g.opts
	log := n.g.log.With("node", n.id, "addr", n.addr())
	failures := 0
	for {
		c, err := dialConn(ctx, n.addr(), n.cfg.Password, opts, log, n.route)
		if err == nil {
			err = subscribeDelivery(c)
			if err != nil {
				c.close(opts.CloseTimeout)
			}
		}
		if err == nil {
			n.probeAVMD(ctx, c)
			upAt := time.Now()
			n.setUp(c)
			if opts.OnRouteUp != nil {
				opts.OnRouteUp(dialer.RouteUp{Node: n.id})
			}
			if failures > 0 {
				log.Info("esl: node connected again", "after_failures", failures)
			} else {
				log.Info("esl: node connected")
			}
			stopped := n.watch(ctx, c)
			n.setDown(errors.New("connection lost"))
			c.close(opts.CloseTimeout)
			if stopped {
				return
			}
			log.Warn("esl: node connection lost; reconnecting")
			if time.Since(upAt) >= opts.StableAfter {
				failures = 0
			}
		} else {
			if ctx.Err() != nil {
				n.setDown(ctx.Err())
				return
			}
			n.setDown(err)
			if failures == 0 {
				log.Warn("esl: node unreachable", "err", err)
			} else {
				log.Debug("esl: node still unreachable", "err", err, "failures", failures)
			}
		}
		failures++
		t := time.NewTimer(backoff(opts.BackoffMin, opts.BackoffMax, failures))
		select {
		case <-ctx.Done():
			t.Stop()
			n.setDown(ctx.Err())
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before reconnect attempt k (1, 2, ...): min doubled
// each time up to max, then a uniformly random part of its upper half, so
// that many dialers do not reconnect in step.
func backoff(lo, hi time.Duration, k int) time.Duration {
	d := lo
	for i := 1; i < k && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// watch returns when the connection ends (false) or ctx is done (true).
// The heartbeat catches a connection that is open but dead: the client
// reports every end it sees, but a peer that vanishes without a FIN or a
// RST is only seen by a command that gets no reply.
func (n *node) watch(ctx context.Context, c *conn) (stopped bool) {
	t := time.NewTicker(n.g.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case <-c.gone:
			return false
		case <-t.C:
			if _, err := c.api(ctx, "status"); err != nil {
				if ctx.Err() != nil {
					return true
				}
				n.g.log.Warn("esl: heartbeat failed", "node", n.id, "err", err)
				return false
			}
		}
	}
}

// subscribeDelivery adds the events delivery and node state are read from
// to a new connection's subscriptions (see deliveryEvents).
func subscribeDelivery(c *conn) error {
	reply, err := c.command("event plain " + strings.Join(deliveryEvents, " "))
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("subscribe: %s", reply)
	}
	if err != nil {
		return fmt.Errorf("esl: subscribe to delivery events: %w", err)
	}
	return nil
}

func (n *node) setUp(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.conn, n.downErr, n.stopping = c, nil, ""
	close(n.changed)
	n.changed = make(chan struct{})
}

func (n *node) setDown(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil && n.downErr != nil {
		n.downErr = err
		return
	}
	n.conn, n.downErr = nil, err
	close(n.changed)
	n.changed = make(chan struct{})
}

// connState is the current connection (nil while down) and a channel
// closed at the next change.
func (n *node) connState() (*conn, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conn, n.changed
}

// stop marks the node as shutting down until its next connection.
func (n *node) stop(why string) {
	n.mu.Lock()
	first := n.stopping == ""
	n.stopping = why
	n.mu.Unlock()
	if first {
		n.g.log.Warn("esl: node is shutting down; no new calls until it reconnects", "node", n.id, "info", why)
	}
}

// usable is nil when the node can take a new attempt now: connected, not
// draining, not shutting down.
func (n *node) usable() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.draining:
		return nodeError(n.id, ErrNodeDraining, nil)
	case n.conn == nil:
		return nodeError(n.id, ErrNodeDown, n.downErr)
	case n.stopping != "":
		return nodeError(n.id, ErrNodeStopping, errors.New("FreeSWITCH announced its shutdown ("+n.stopping+")"))
	}
	return nil
}

// state is the node's up and stopping flags and its calls, for metrics.
func (n *node) state() (up, stopping bool, calls int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conn != nil, n.stopping != "", n.active
}

// forgetQueue bounds the records waiting to be removed; beyond it a
// record stays in FreeSWITCH's memory (a few hundred bytes) until a
// FreeSWITCH restart.
const forgetQueue = 4096

// forget asks for the call record FreeSWITCH kept for a call followed to
// its end to be removed: the record is only for calls that end while
// nobody listens. It does not wait: the removal is one more command on the
// node's connection, and the attempt is over.
func (n *node) forget(uuid string) {
	select {
	case n.forgetQ <- uuid:
	default:
		n.g.log.Debug("esl: call record left in place: removal queue full", "node", n.id, "uuid", uuid)
	}
}

// forgetter removes the records forget queued, until ctx is done.
func (n *node) forgetter(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		var uuid string
		select {
		case <-ctx.Done():
			return
		case uuid = <-n.forgetQ:
		}
		cur, _ := n.connState()
		if cur == nil {
			continue // a reconnect lost nothing that matters: Recover removes what it reads
		}
		cctx, cancel := context.WithTimeout(ctx, n.g.opts.CommandTimeout)
		if err := deleteRecord(cctx, cur, uuid); err != nil {
			n.g.log.Debug("esl: call record not removed", "node", n.id, "uuid", uuid, "err", err)
		}
		cancel()
	}
}

// health is nil when the node is connected.
func (n *node) health() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		return nil
	}
	return n.downErr
}

// route hands an event to the call it belongs to; the connection calls it
// for each event in arrival order, on one goroutine. SHUTDOWN and
// SHUTDOWN_REQUESTED take the node out of service at once: FreeSWITCH
// refuses new sessions (or, elegant, is about to) and its connection is
// about to close.
func (n *node) route(ev frame) {
	e := parseEvent(&ev, time.Now())
	if e.name == evShutdown || e.name == evShutdownRequested {
		n.stop(cmp.Or(e.info, e.name))
		return
	}
	if e.name != evBackgroundJob && n.routeInbound(e) {
		return
	}
	n.mu.Lock()
	var c *call
	if e.name == evBackgroundJob {
		c = n.jobs[e.job]
	} else if e.uuid != "" {
		c = n.calls[e.uuid]
	}
	n.mu.Unlock()
	if c != nil {
		c.add(e)
	}
}

// admit counts an attempt in and registers its call before anything is
// sent, so that no event can arrive unheard. It refuses a draining node.
func (n *node) admit(c *call) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.draining {
		return nodeError(n.id, ErrNodeDraining, nil)
	}
	if _, dup := n.calls[c.uuid]; dup {
		return &dialer.Error{Code: dialer.CodeConflict, Message: "call " + c.uuid + " is already being followed"}
	}
	n.calls[c.uuid] = c
	if c.job != "" {
		n.jobs[c.job] = c
	}
	n.active++
	return nil
}

// leave unregisters a call and, on a draining node, stops the node once
// its last call has left.
func (n *node) leave(c *call) {
	n.mu.Lock()
	delete(n.calls, c.uuid)
	if c.job != "" {
		delete(n.jobs, c.job)
	}
	n.active--
	last := n.draining && n.active == 0
	n.mu.Unlock()
	if last {
		n.g.finishDrain(n)
	}
}

// drain refuses new attempts from now on; it reports whether nothing is
// in flight (the node can stop at once).
func (n *node) drain() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.draining = true
	return n.active == 0
}

func (n *node) load() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.active
}

// update applies new limits to a running node.
func (n *node) update(cfg dialer.FreeSwitchNode) {
	n.mu.Lock()
	n.cfg.Name, n.cfg.SessionsPerSecond, n.cfg.MaxSessions = cfg.Name, cfg.SessionsPerSecond, cfg.MaxSessions
	n.mu.Unlock()
	n.slots.resize(cfg.MaxSessions)
	n.pace.setRate(cfg.SessionsPerSecond)
}

func (n *node) limits() (sps, maxSessions int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg.SessionsPerSecond - 1, n.cfg.MaxSessions
}

// slots is a counting semaphore of live calls that can be resized, and
// forced past its size by calls that exist already (re-attached ones).
type slots struct {
	mu    sync.Mutex
	size  int
	used  int
	freed chan struct{} // closed and replaced when a slot frees
}

func newSlots(size int) *slots { return &slots{size: size, freed: make(chan struct{})} }

func (s *slots) acquire(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.used < s.size {
			s.used++
			s.mu.Unlock()
			return nil
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// force takes a slot whatever the size: the call exists already.
func (s *slots) force() {
	s.mu.Lock()
	s.used++
	s.mu.Unlock()
}

func (s *slots) release() {
	s.mu.Lock()
	s.used--
	close(s.freed)
	s.freed = make(chan struct{})
	s.mu.Unlock()
}

func (s *slots) resize(size int) {
	s.mu.Lock()
	s.size = size
	close(s.freed)
	s.freed = make(chan struct{})
	s.mu.Unlock()
}

// pacer spaces originates evenly with no burst. FreeSWITCH refills a
// budget of sessions-per-second N once a second and refuses a session when
// the budget, decremented first, is no longer positive: at most N-1 get
// through per second. The pacer leaves at least (1 s + slack)/(N-1)
// between the starts of two sends, measured when each send starts, under
// a lock held through the send: N-1 originates can never fall within one
// second at the switch unless their delays differ by more than the slack.
type pacer struct {
	lock     chan struct{} // held from the wait through the send
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
}

// paceSlack absorbs differences in network and scheduling delay between
// consecutive originates.
const paceSlack = 20 * time.Millisecond

func paceInterval(sps int) time.Duration {
	return (time.Second + paceSlack) / time.Duration(max(sps-1, 1))
}

func newPacer(sps int) *pacer {
	return &pacer{lock: make(chan struct{}, 1), interval: paceInterval(sps)}
}

func (p *pacer) setRate(sps int) {
	p.mu.Lock()
	p.interval = paceInterval(sps)
	p.mu.Unlock()
}

// do waits for the next slot and runs send in it.
func (p *pacer) do(ctx context.Context, send func() error) error {
	select {
	case p.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.lock }()
	p.mu.Lock()
	wait := time.Until(p.last.Add(p.interval))
	p.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	p.mu.Lock()
	p.last = time.Now()
	p.mu.Unlock()
	return send()
}

// adopt registers a call found again by recovery: unlike admit it accepts
// a draining node, which still answers for its calls.
func (n *node) adopt(c *call) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.calls[c.uuid]; dup {
		return &dialer.Error{Code: dialer.CodeConflict, Message: "call " + c.uuid + " is already being followed"}
	}
	n.calls[c.uuid] = c
	n.active++
	return nil
}
