package esl

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Sentinel errors, matched with errors.Is. Every error Deliver returns
// before anything reached FreeSWITCH is also a *dialer.Error.
var (
	// ErrNodeDown: the node has no connection now; nothing was sent.
	ErrNodeDown = errors.New("esl: FreeSWITCH node is down")
	// ErrNodeDraining: the node was disabled or removed; it finishes its
	// calls and takes no new ones.
	ErrNodeDraining = errors.New("esl: FreeSWITCH node is draining")
	// ErrUnknownNode: no enabled FreeSWITCH profile has this id (for the
	// attempt's tenant).
	ErrUnknownNode = errors.New("esl: no such FreeSWITCH node")
	// ErrRefused: FreeSWITCH answered the bgapi command with -ERR.
	ErrRefused = errors.New("esl: FreeSWITCH refused the command")
	// ErrClosed: the gateway is closed.
	ErrClosed = errors.New("esl: gateway closed")
	// ErrNodeStopping: FreeSWITCH announced its shutdown (SHUTDOWN or
	// SHUTDOWN_REQUESTED); the node takes nothing until it reconnects.
	ErrNodeStopping = errors.New("esl: FreeSWITCH node is shutting down")
)

// Causes of the route faults the gateway raises itself.
const (
	// CauseNodeDown: the node has no connection, is draining or stopping.
	CauseNodeDown = "ESL_NODE_DOWN"
)

// asFault gives a node error its fault: an unknown node (or a tenant with
// none) is configuration, which no retry fixes; a node that is down,
// draining or stopping is the route's.
func asFault(err error) error {
	if err == nil {
		return nil
	}
	var fe *dialer.FaultError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, ErrUnknownNode) {
		return &dialer.FaultError{Fault: dialer.FaultContent, Cause: dialer.CauseNotConfigured, Field: "node_id", Err: err}
	}
	return dialer.RouteFault(CauseNodeDown, err)
}

// Options tune a Gateway. Zero fields take the defaults in brackets.
type Options struct {
	Log *slog.Logger // [discard]

	DialTimeout    time.Duration // [5s] TCP connect plus authentication
	CommandTimeout time.Duration // [5s] reply to one command
	CloseTimeout   time.Duration // [2s] from "exit" to the disconnect
	Heartbeat      time.Duration // [10s] "api status" on every connection
	BackoffMin     time.Duration // [500ms] first reconnect wait
	BackoffMax     time.Duration // [30s] longest reconnect wait
	StableAfter    time.Duration // [10s] a connection this old resets the back-off

	// Settle is how long a call waits, once FreeSWITCH has said it is
	// over, for events still on their way (eslgo delivers each event in
	// its own goroutine). [50ms]
	Settle time.Duration
	// Reorder holds each progress event this long so that one with a
	// lower Event-Sequence can overtake it. [20ms]
	Reorder time.Duration
	// ReconnectGrace is how long a live call waits for its node's
	// connection to come back before it ends as CauseConnectionLost. [15s]
	ReconnectGrace time.Duration
	// ChannelGrace bounds waits for a CHANNEL_HANGUP_COMPLETE that should
	// follow: after a -ERR job result, after a kill. [10s]
	ChannelGrace time.Duration
	// NoResultGrace is how long after the ring timeout an originate that
	// produced nothing at all is asked about with uuid_exists. [15s]
	NoResultGrace time.Duration
	// HardMargin is added to ring timeout plus maximum duration: a call
	// still followed then is killed and given up. [60s]
	HardMargin time.Duration
	// UnlimitedCallCap stands for the maximum duration of attempts that
	// have none, for that hard limit. [4h]
	UnlimitedCallCap time.Duration
	// BeepWait is how long on_machine play_after_beep waits after the
	// answer for mod_avmd's beep before it plays anyway. [6s]
	BeepWait time.Duration

	// TTSEngine and TTSVoice are speak's engine and default voice. [flite, kal]
	TTSEngine string
	TTSVoice  string

	// MediaURL turns a media file of this host into a URL a node on
	// another host can fetch (dialerd serves them signed at /media/…).
	// Without it such nodes cannot play recordings.
	MediaURL func(localPath string) (string, error)

	// OnRouteUp is told each time a node's connection is (re)established,
	// so that the engine ends the back-off of the providers on it at once.
	// It is called from the node's goroutine and must not block. [nil]
	OnRouteUp func(dialer.RouteUp)

	// Fax receives the fax calls the dialplan parks for dialerd, and
	// FaxDir is where rxfax writes them (an absolute path on this host;
	// only nodes on this host receive). Without both, such calls are hung
	// up unanswered. [nil, ""]
	Fax    FaxReceiver
	FaxDir string
}

func (o *Options) fill() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&o.DialTimeout, 5*time.Second)
	set(&o.CommandTimeout, 5*time.Second)
	set(&o.CloseTimeout, 2*time.Second)
	set(&o.Heartbeat, 10*time.Second)
	set(&o.BackoffMin, 500*time.Millisecond)
	set(&o.BackoffMax, 30*time.Second)
	set(&o.StableAfter, 10*time.Second)
	set(&o.Settle, 50*time.Millisecond)
	set(&o.Reorder, 20*time.Millisecond)
	set(&o.ReconnectGrace, 15*time.Second)
	set(&o.ChannelGrace, 10*time.Second)
	set(&o.NoResultGrace, 15*time.Second)
	set(&o.HardMargin, 60*time.Second)
	set(&o.UnlimitedCallCap, 4*time.Hour)
	set(&o.BeepWait, 6*time.Second)
	o.BackoffMax = max(o.BackoffMax, o.BackoffMin)
	o.TTSEngine = cmp.Or(o.TTSEngine, "flite")
	o.TTSVoice = cmp.Or(o.TTSVoice, "kal")
}

// Gateway delivers voice and fax attempts through FreeSWITCH nodes over
// the inbound Event Socket. It implements dialer.Gateway, dialer.Placer,
// dialer.AttemptChecker and dialer.Recoverer (CallExists and Reattach
// remain until the engine has moved to Recover), and is the registry of nodes the PBX profiles API drives (ApplyNode,
// RemoveNode). All methods are safe for concurrent use.
type Gateway struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context // parent of every node's run
	stop context.CancelFunc

	mu       sync.Mutex
	nodes    map[string]*node   // live, by id
	draining map[*node]struct{} // removed or replaced, finishing calls
	closed   bool
}

// New returns a gateway with no nodes.
func New(opts Options) *Gateway {
	opts.fill()
	ctx, stop := context.WithCancel(context.Background())
	return &Gateway{
		opts:     opts,
		log:      opts.Log,
		ctx:      ctx,
		stop:     stop,
		nodes:    map[string]*node{},
		draining: map[*node]struct{}{},
	}
}

// ApplyNode starts a node, or updates a running one: new limits apply at
// once; a new address or password replaces the node (the old one drains).
func (g *Gateway) ApplyNode(cfg dialer.FreeSwitchNode) error {
	var v dialer.Invalid
	if cfg.ID == "" {
		v.Add("id", "required")
	}
	if !dialer.ValidProviderHost(cfg.Host) {
		v.Add("host", "a host name or an IP address")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		v.Add("port", "1-65535")
	}
	if cfg.SessionsPerSecond < dialer.MinFreeSwitchSPS {
		v.Add("sps", fmt.Sprintf("at least %d", dialer.MinFreeSwitchSPS))
	}
	if cfg.MaxSessions < 1 {
		v.Add("maxSessions", "at least 1")
	}
	if strings.ContainsFunc(cfg.Password, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		v.Add("password", "no spaces or control characters")
	}
	if err := v.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if old, ok := g.nodes[cfg.ID]; ok {
		if old.cfg.Host == cfg.Host && old.cfg.Port == cfg.Port && old.cfg.Password == cfg.Password &&
			old.cfg.TenantID == cfg.TenantID {
			old.update(cfg)
			return nil
		}
		g.drainLocked(old)
	}
	n := newNode(g, cfg)
	g.nodes[cfg.ID] = n
	n.start(g.ctx)
	g.log.Info("esl: node added", "node", cfg.ID, "name", cfg.Name, "host", cfg.Host, "port", cfg.Port,
		"sps", cfg.SessionsPerSecond, "max_sessions", cfg.MaxSessions)
	return nil
}

// RemoveNode drains a node: it takes no new attempts, its calls in flight
// finish, then its connection closes. Unknown ids are ignored.
func (g *Gateway) RemoveNode(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, ok := g.nodes[id]; ok {
		g.drainLocked(n)
		g.log.Info("esl: node draining", "node", id)
	}
}

func (g *Gateway) drainLocked(n *node) {
	delete(g.nodes, n.id)
	g.draining[n] = struct{}{}
	if n.drain() {
		go g.finishDrain(n)
	}
}

// finishDrain stops a drained node whose last call has ended.
func (g *Gateway) finishDrain(n *node) {
	g.mu.Lock()
	_, ok := g.draining[n]
	delete(g.draining, n)
	g.mu.Unlock()
	if ok {
		n.cancel()
		<-n.done
	}
}

// Nodes lists the ids of the live (not draining) nodes, sorted.
func (g *Gateway) Nodes() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.nodes))
}

// NodeHealth maps each live node to nil when it is connected, else to why
// it is not: /readyz shows it as "esl:<id>".
func (g *Gateway) NodeHealth() map[string]error {
	g.mu.Lock()
	nodes := slices.Collect(maps.Values(g.nodes))
	g.mu.Unlock()
	out := make(map[string]error, len(nodes))
	for _, n := range nodes {
		switch err := n.health(); {
		case err != nil:
			out[n.id] = nodeError(n.id, ErrNodeDown, err)
		case errors.Is(n.usable(), ErrNodeStopping):
			out[n.id] = n.usable()
		default:
			out[n.id] = nil
		}
	}
	return out
}

// NodeCheck is the readiness check of one node.
func (g *Gateway) NodeCheck(id string) func(context.Context) error {
	return func(context.Context) error {
		n, err := g.node(id, "")
		if err != nil {
			return err
		}
		if err := n.health(); err != nil {
			return nodeError(id, ErrNodeDown, err)
		}
		return nil
	}
}

// WaitConnected returns nil once every live node is connected, or ctx's
// error when it is done first.
func (g *Gateway) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		up := true
		for _, err := range g.NodeHealth() {
			up = up && err == nil
		}
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// NodeLimits is what a node lets through, for the engine's pacing: sps is
// the originations per second the gateway allows (the profile's
// sessions-per-second minus one, since FreeSWITCH lets N-1 through per
// second with N), maxSessions its concurrent calls. Zeros for an unknown node.
func (g *Gateway) NodeLimits(id string) (sps, maxSessions int) {
	n, err := g.node(id, "")
	if err != nil {
		return 0, 0
	}
	return n.limits()
}

// node finds a live node; tenant, when set, must own it.
func (g *Gateway) node(id, tenant string) (*node, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	n, ok := g.nodes[id]
	if !ok || (tenant != "" && n.cfg.TenantID != tenant) {
		for d := range g.draining {
			if d.id == id && (tenant == "" || d.cfg.TenantID == tenant) {
				return nil, nodeError(id, ErrNodeDraining, nil)
			}
		}
		return nil, nodeError(id, ErrUnknownNode, nil)
	}
	return n, nil
}

// pick chooses the node of an attempt: its route's, or else the least
// busy connected node of its tenant.
func (g *Gateway) pick(a dialer.Attempt) (*node, error) {
	if a.Provider.Node != "" {
		n, err := g.node(a.Provider.Node, a.TenantID)
		if err != nil {
			return nil, err
		}
		if err := n.usable(); err != nil {
			return nil, err
		}
		return n, nil
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrClosed
	}
	var cands []*node
	for _, n := range g.nodes {
		if n.cfg.TenantID == a.TenantID {
			cands = append(cands, n)
		}
	}
	g.mu.Unlock()
	var best *node
	bestLoad := 0
	for _, n := range cands {
		if n.usable() != nil || !n.carries(a) {
			continue
		}
		if l := n.load(); best == nil || l < bestLoad || (l == bestLoad && n.id < best.id) {
			best, bestLoad = n, l
		}
	}
	if best == nil {
		if len(cands) == 0 {
			return nil, nodeError("", ErrUnknownNode, errors.New("the tenant has no enabled FreeSWITCH profile"))
		}
		return nil, nodeError("", ErrNodeDown, errors.New("none of the tenant's FreeSWITCH nodes is connected"))
	}
	return best, nil
}

// nodeError is a domain error (not ready) that also matches sentinel.
func nodeError(id string, sentinel, cause error) error {
	msg := "FreeSWITCH node " + id
	if id == "" {
		msg = "FreeSWITCH"
	}
	switch sentinel {
	case ErrNodeDown:
		msg += " is down"
	case ErrNodeDraining:
		msg += " is draining"
	case ErrNodeStopping:
		msg += " is shutting down"
	case ErrUnknownNode:
		msg += " is not configured"
	}
	var err error = sentinel
	if cause != nil {
		err = causedBy{sentinel, cause}
	}
	code := dialer.CodeNotReady
	if sentinel == ErrUnknownNode {
		code = dialer.CodeNotFound
	}
	return &dialer.Error{Code: code, Message: msg, Err: err}
}

// causedBy matches its sentinel (errors.Is) and reads as its cause alone,
// so that messages do not say the same thing twice.
type causedBy struct{ sentinel, cause error }

func (c causedBy) Error() string   { return c.cause.Error() }
func (c causedBy) Unwrap() []error { return []error{c.sentinel, c.cause} }

// Deliver makes one voice or fax attempt (voicemessage, voicetts, sendfax)
// and returns when it has ended. Every error is a *dialer.FaultError: a
// content fault naming the field for what the gateway cannot carry (see
// CheckAttempt), configuration for an unknown node, the route's fault for
// a node that is down, draining or shutting down, a refused command, or an
// originate that never got a channel (sessions-per-second, max-sessions:
// returned at once). Once a channel exists the attempt ends with an
// Outcome, even when its connection is lost (see CauseConnectionLost),
// except when ctx is done: then it returns ctx.Err() and leaves the call
// alone; its call record lets Recover close it truthfully later.
func (g *Gateway) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	n, err := g.pick(a)
	if err != nil {
		return dialer.Outcome{}, asFault(err)
	}
	cmd, err := g.originateFor(a, n.local)
	if err != nil {
		return dialer.Outcome{}, err
	}
	if !n.carries(a) {
		return dialer.Outcome{}, dialer.ContentFault("on_machine", fmt.Errorf("%w: node %s", ErrNoAVMD, n.id))
	}
	// The follower recognises the confirmation's playback by its URL, and
	// plays the message itself after a beep (originateFor succeeded with them).
	_ = withConfirmURL(&a, n.local, g.opts.MediaURL)
	_ = withRecordingURL(&a, n.local, g.opts.MediaURL)
	if err := n.slots.acquire(ctx); err != nil {
		return dialer.Outcome{}, err
	}
	defer n.slots.release()
	job := newUUID()
	c := newCall(strings.ToLower(a.CallUUID), job)
	if err := n.admit(c); err != nil {
		return dialer.Outcome{}, asFault(err)
	}
	defer n.leave(c)

	var sentOn *conn
	var sentAt time.Time
	err = n.pace.do(ctx, func() error {
		cur, _ := n.connState()
		if cur == nil {
			return nodeError(n.id, ErrNodeDown, n.health())
		}
		if err := n.usable(); err != nil {
			return err // it announced its shutdown while this one waited
		}
		sentOn, sentAt = cur, time.Now()
		reply, err := cur.command("bgapi originate " + cmd.Arg + "\nJob-UUID: " + job)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(reply, "+OK") {
			return dialer.RouteFault(CauseNodeDown, &dialer.Error{Code: dialer.CodeNotReady,
				Message: "FreeSWITCH node " + n.id + " refused the originate: " + reply,
				Err:     fmt.Errorf("%w: %s", ErrRefused, reply)})
		}
		return nil
	})
	var se *sendError
	switch {
	case err == nil:
	case errors.As(err, &se) && !se.unsent:
		// Sent, but the reply was lost with the connection: the call may
		// exist. Follow it like any call whose connection dropped.
		g.log.Warn("esl: originate sent but unanswered; following the call", "node", n.id, "uuid", c.uuid, "err", err)
	case errors.Is(err, errConnGone) || se != nil:
		return dialer.Outcome{}, asFault(nodeError(n.id, ErrNodeDown, err))
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return dialer.Outcome{}, err
	default:
		return dialer.Outcome{}, asFault(err)
	}
	f := &follower{g: g, n: n, c: c, a: a, progress: progress, sentAt: sentAt, conn: sentOn}
	o, err := f.run(ctx)
	if err == nil {
		n.forget(c.uuid)
	}
	return o, err
}

// originateFor validates the attempt for a node (local or remote) and
// builds its originate; what it refuses is a content fault naming the API
// field to fix.
func (g *Gateway) originateFor(a dialer.Attempt, local bool) (originate, error) {
	if err := withRecordingURL(&a, local, g.opts.MediaURL); err != nil {
		return originate{}, dialer.ContentFault("recording_id", fmt.Errorf("esl: recording URL: %w", err))
	}
	if err := withConfirmURL(&a, local, g.opts.MediaURL); err != nil {
		return originate{}, dialer.ContentFault("opt_out_recording_id", fmt.Errorf("esl: recording URL: %w", err))
	}
	if err := checkCallOptions(a, local); err != nil {
		return originate{}, err
	}
	cmd, err := buildOriginate(a, mediaPlace{local: local, ttsEngine: g.opts.TTSEngine, ttsVoice: g.opts.TTSVoice})
	if err != nil {
		return originate{}, contentFault(a, err)
	}
	if local {
		if err := checkLocalMedia(a); err != nil {
			return originate{}, err
		}
	}
	return cmd, nil
}

// Place chooses the node of an attempt without any I/O (the engine calls
// it on its loop before the write-ahead commit): the provider's pinned
// node, or the least busy usable node of the tenant. The route it returns
// names the node, which the spool records for recovery. A node that is
// down, draining or shutting down is refused as the route's fault; a
// tenant without nodes as configuration.
func (g *Gateway) Place(a dialer.Attempt) (dialer.Route, error) {
	n, err := g.pick(a)
	if err != nil {
		return a.Provider, asFault(err)
	}
	r := a.Provider
	r.Node = n.id
	return r, nil
}

// CheckAttempt is the gateway's own validation of an attempt (no I/O but
// the media file's presence on this host): what buildOriginate refuses, a
// recording that is not a .wav file, a fax document that is not a TIFF.
// The error is a dialer.ContentFault naming the API field. Parts the
// caller leaves empty (no number, no program, no provider) are not
// checked, so the API can check a provider or a program on its own.
func (g *Gateway) CheckAttempt(a dialer.Attempt) error {
	local := true
	if a.Provider.Node != "" {
		if n, err := g.node(a.Provider.Node, ""); err == nil {
			local = n.local
		}
	}
	if !local && a.Media.RecordingURL == "" && a.Program == dialer.ProgramVoiceMessage {
		if g.opts.MediaURL == nil {
			return dialer.ContentFault("recording_id", errors.New("esl: a node on another host needs Options.MediaURL to fetch recordings"))
		}
	}
	// What the caller did not give is not checked: a provider is checked
	// without a program or a number, a program without a provider.
	if a.CallUUID == "" {
		a.CallUUID = "00000000-0000-4000-8000-000000000000"
	}
	if a.Phone == "" {
		a.Phone = "+15550000000"
	}
	if a.Provider.Name == "" && a.Provider.DialString == "" {
		a.Provider.Name = "provider"
	}
	if a.Program == "" {
		a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "check"}
	}
	if err := g.checkMachine(a); err != nil {
		return err
	}
	_, err := g.originateFor(a, local)
	return err
}

// contentFault turns the builder's validation error into a content fault
// naming the API field to fix.
func contentFault(a dialer.Attempt, err error) error {
	var de *dialer.Error
	if !errors.As(err, &de) || len(de.Fields) == 0 {
		return dialer.ContentFault("", err)
	}
	mediaField := map[dialer.ProgramType]string{
		dialer.ProgramVoiceMessage: "recording_id",
		dialer.ProgramVoiceTTS:     "text",
		dialer.ProgramSendFax:      "document_id",
	}[a.Program]
	if mediaField == "" {
		mediaField = "program"
	}
	for _, f := range []string{"media", "prefix", "dialstring", "phone", "caller_id_number", "caller_id_name", "call_uuid"} {
		reason, ok := de.Fields[f]
		if !ok {
			continue
		}
		field := f
		switch {
		case f == "media":
			field = mediaField
		case f == "dialstring" && a.Provider.DialString == "":
			field = "name" // the provider name names the sofia gateway
		}
		return dialer.ContentFault(field, fmt.Errorf("esl: %s: %s: %w", field, reason, err))
	}
	return dialer.ContentFault("", err)
}

// checkLocalMedia refuses, before anyone is called, a media file a node on
// this host could not open.
func checkLocalMedia(a dialer.Attempt) error {
	var path, field string
	switch a.Program {
	case dialer.ProgramVoiceMessage:
		path, field = a.Media.RecordingPath, "recording_id"
	case dialer.ProgramSendFax:
		path, field = a.Media.DocumentPath, "document_id"
	default:
		return nil
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return dialer.ContentFault(field, fmt.Errorf("esl: media file: %w", err))
	case !st.Mode().IsRegular() || st.Size() == 0:
		return dialer.ContentFault(field, fmt.Errorf("esl: media file %s is empty or not a file", path))
	}
	return nil
}

// Reattach follows a call that a previous run of the daemon started and
// that may still be live (the spool's CallUUID on a.Provider.Node), until
// it ends, as Deliver would have. It returns dialer.ErrCallGone (wrapped)
// when the call does not exist. Progress reports only what happens from now on.
func (g *Gateway) Reattach(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	if !uuidPattern.MatchString(a.CallUUID) {
		return dialer.Outcome{}, dialer.InvalidField("call_uuid", "not a UUID")
	}
	n, err := g.node(a.Provider.Node, a.TenantID)
	if err == nil {
		err = n.health()
		if err != nil {
			err = nodeError(n.id, ErrNodeDown, err)
		}
	}
	if err != nil {
		return dialer.Outcome{}, err
	}
	c := newCall(strings.ToLower(a.CallUUID), "")
	if err := n.admit(c); err != nil {
		return dialer.Outcome{}, err
	}
	defer n.leave(c)
	n.slots.force() // the call is live already: it occupies a session
	defer n.slots.release()
	// Registered first, then asked: an end between the two is not missed.
	cur, _ := n.connState()
	if cur == nil {
		return dialer.Outcome{}, nodeError(n.id, ErrNodeDown, n.health())
	}
	out, err := cur.api(ctx, "uuid_exists "+c.uuid)
	if err != nil {
		return dialer.Outcome{}, nodeError(n.id, ErrNodeDown, err)
	}
	if out != "true" && len(c.sorted()) == 0 {
		return dialer.Outcome{}, fmt.Errorf("esl: %w: %s on node %s", dialer.ErrCallGone, c.uuid, n.id)
	}
	f := &follower{g: g, n: n, c: c, a: a, progress: progress, sentAt: time.Now(), reattach: true, conn: cur, gone: out != "true"}
	return f.run(ctx)
}

// Recover finds again a call a previous process started (dialer.Recoverer):
// it asks the node that placed it (the spool's Provider.Node; every node
// of the tenant for spools from before nodes were recorded). A live call is
// followed to its end as Deliver would (delivery read from its events from
// now on; what the store knew of its answer and delivery is kept). A call
// that is over is closed from the record FreeSWITCH kept of it (record.go),
// which is then removed. It returns dialer.ErrCallUnknown when a node that
// may hold the call cannot be asked now, dialer.ErrCallGone when the call
// is over and no record of it is left.
func (g *Gateway) Recover(ctx context.Context, s dialer.RecoverSpool, progress func(dialer.Progress)) (dialer.Outcome, error) {
	a := s.Attempt
	if !uuidPattern.MatchString(a.CallUUID) {
		return dialer.Outcome{}, fmt.Errorf("esl: spool call uuid %q: %w", a.CallUUID, dialer.ErrCallGone)
	}
	uuid := strings.ToLower(a.CallUUID)
	unknown := false
	for _, n := range g.recoveryNodes(a) {
		out, err, done := g.recoverOn(ctx, n, s, uuid, progress)
		if done {
			return out, err
		}
		if err != nil {
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			g.log.Debug("esl: recovery could not ask the node", "node", n.id, "uuid", uuid, "err", err)
			unknown = true
		}
	}
	if unknown || len(g.recoveryNodes(a)) == 0 && a.Provider.Node != "" {
		return dialer.Outcome{}, fmt.Errorf("esl: call %s on node %q: %w", uuid, a.Provider.Node, dialer.ErrCallUnknown)
	}
	return dialer.Outcome{}, fmt.Errorf("esl: call %s: %w", uuid, dialer.ErrCallGone)
}

// recoveryNodes are the nodes that may hold the attempt's call, live or
// draining.
func (g *Gateway) recoveryNodes(a dialer.Attempt) []*node {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*node
	add := func(n *node) {
		if a.Provider.Node != "" && n.id != a.Provider.Node {
			return
		}
		if a.Provider.Node == "" && a.TenantID != "" && n.cfg.TenantID != a.TenantID {
			return
		}
		out = append(out, n)
	}
	for _, n := range g.nodes {
		add(n)
	}
	for n := range g.draining {
		add(n)
	}
	slices.SortFunc(out, func(x, y *node) int { return strings.Compare(x.id, y.id) })
	return out
}

// recoverOn asks one node. done is true when the node answered for the
// call: out and err are then Recover's answer.
func (g *Gateway) recoverOn(ctx context.Context, n *node, s dialer.RecoverSpool, uuid string, progress func(dialer.Progress)) (out dialer.Outcome, err error, done bool) {
	cur, _ := n.connState()
	if cur == nil {
		return dialer.Outcome{}, nodeError(n.id, ErrNodeDown, n.health()), false
	}
	c := newCall(uuid, "")
	if err := n.adopt(c); err != nil {
		return dialer.Outcome{}, err, false
	}
	// Registered first, then asked: an end between the two is not missed.
	exists, err := cur.api(ctx, "uuid_exists "+uuid)
	if err != nil {
		n.leave(c)
		return dialer.Outcome{}, nodeError(n.id, ErrNodeDown, err), false
	}
	if exists == "true" || len(c.sorted()) > 0 {
		defer n.leave(c)
		n.slots.force() // the call is live already: it occupies a session
		defer n.slots.release()
		a := s.Attempt
		a.Provider.Node = n.id
		f := &follower{g: g, n: n, c: c, a: a, progress: progress, sentAt: time.Now(), reattach: true, conn: cur,
			gone: exists != "true", knownAnswer: s.Answered, knownDelivered: !s.Delivered.IsZero()}
		// The answer was seen by the process before: the maximum duration
		// still counts from it, so a callee who never hangs up is still
		// hung up on. When it was not recorded (a kill in the moment
		// between the answer and its commit), from the latest it can have
		// been, the ring timeout after the spool, until an answer is seen.
		f.answeredRcv = s.Answered
		if f.answeredRcv.IsZero() && !s.Spooled.IsZero() {
			f.answeredRcv, f.answerGuessed = s.Spooled.Add(a.RingTimeout), true
		}
		o, err := f.run(ctx)
		if err == nil {
			n.forget(uuid)
		}
		return o, err, true
	}
	n.leave(c)
	r, ok, err := readRecord(ctx, cur, uuid)
	if err != nil {
		return dialer.Outcome{}, nodeError(n.id, ErrNodeDown, err), false
	}
	if !ok {
		return dialer.Outcome{}, nil, false
	}
	a := s.Attempt
	a.Provider.Node = n.id
	f := &follower{g: g, n: n, c: newCall(uuid, ""), a: a, reattach: true,
		knownAnswer: s.Answered, knownDelivered: !s.Delivered.IsZero(), handled: map[uint64]bool{}}
	o, err := f.finish([]event{r.event(uuid, time.Now())}, "")
	if err == nil {
		n.forget(uuid)
	}
	return o, err, true
}

// CallExists asks the node whether a channel with this UUID exists.
func (g *Gateway) CallExists(ctx context.Context, nodeID, callUUID string) (bool, error) {
	if !uuidPattern.MatchString(callUUID) {
		return false, dialer.InvalidField("call_uuid", "not a UUID")
	}
	n, err := g.node(nodeID, "")
	if err != nil {
		// A draining node still answers for its calls.
		n = g.drainingNode(nodeID)
		if n == nil {
			return false, err
		}
	}
	cur, _ := n.connState()
	if cur == nil {
		return false, nodeError(n.id, ErrNodeDown, n.health())
	}
	out, err := cur.api(ctx, "uuid_exists "+strings.ToLower(callUUID))
	if err != nil {
		return false, nodeError(n.id, ErrNodeDown, err)
	}
	switch out {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("esl: uuid_exists answered %q", out)
}

func (g *Gateway) drainingNode(id string) *node {
	g.mu.Lock()
	defer g.mu.Unlock()
	for n := range g.draining {
		if n.id == id {
			return n
		}
	}
	return nil
}

// Close drains every node and waits until their calls have ended or ctx
// is done; then it closes every connection ("exit") and returns.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	var all []*node
	for _, n := range g.nodes {
		n.drain()
		all = append(all, n)
	}
	for n := range g.draining {
		all = append(all, n)
	}
	g.nodes = map[string]*node{}
	g.draining = map[*node]struct{}{}
	g.mu.Unlock()

	var err error
	for _, n := range all {
		for (n.load() > 0 || n.inbound.busy()) && err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	g.stop()
	for _, n := range all {
		<-n.done
		n.inbound.wg.Wait() // no fax is handed over after Close
	}
	return err
}

// newUUID returns a random version 4 UUID, for Job-UUIDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// withRecordingURL gives an attempt bound for a node on another host the URL
// of its recording, which that node fetches instead of the local path.
func withRecordingURL(a *dialer.Attempt, local bool, mediaURL func(string) (string, error)) error {
	if local || a.Media.RecordingURL != "" || a.Media.RecordingPath == "" || mediaURL == nil {
		return nil
	}
	u, err := mediaURL(a.Media.RecordingPath)
	if err != nil {
		return err
	}
	a.Media.RecordingURL = u
	return nil
}
