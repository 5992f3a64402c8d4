package esltest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Password for "auth"; default "ClueCon".
	Password string
	// Default is the behaviour of destinations without a Script; the zero
	// Behaviour answers at once and stays up until it is hung up.
	Default Behaviour
	// MaxSessions is switch.conf's max-sessions: an originate that would
	// make more channels live fails with -ERR DESTINATION_OUT_OF_ORDER and
	// creates no channel. Zero means no limit.
	MaxSessions int
	// SessionsPerSecond is switch.conf's sessions-per-second. FreeSWITCH
	// refills a budget of N once per second and refuses a session when
	// the budget, decremented first, is no longer positive, so at most N-1
	// originates succeed in each one-second tick; the fake does exactly
	// that, ticks counted from Start. Refused originates fail like
	// MaxSessions. Zero means no limit.
	SessionsPerSecond int
	// Hostname is FreeSWITCH-Hostname; default "esltest".
	Hostname string
	// AuthTimeout is how long a connection may wait between packets
	// before it authenticates (mod_event_socket gives 25 s).
	AuthTimeout time.Duration
	// Modules are the loaded modules "module_exists" knows beside the
	// stock ones the fake imitates; mod_avmd is not stock (it is not in
	// the vanilla modules.conf.xml).
	Modules []string
}

// Server is a fake FreeSWITCH Event Socket listening on 127.0.0.1.
//
// A channel is live (uuid_exists, show channels, Channels, max-sessions)
// from its originate until its CHANNEL_HANGUP_COMPLETE is queued; it is
// forgotten in the same step, so a client that has seen that event never
// finds the channel again. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	coreUUID string
	wg       sync.WaitGroup // every goroutine the server starts

	mu         sync.Mutex
	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	stopWatch  func() bool // unregisters the Start context watcher
	ln         net.Listener
	started    time.Time
	closed     bool
	conns      map[*conn]struct{}
	nextConn   int
	channels   map[string]*channel
	scripts    map[string][]Behaviour
	seq        uint64
	sessions   int // sessions created since start, for session_id
	commands   []Command
	originates []Originate
	stats      Stats
	recent     []time.Time // originate times in the last second
	spsTick    time.Duration
	spsBudget  int
	hash       map[string]string      // mod_hash: realm/key -> value
	stopping   bool                   // fsctl shutdown asap: no new sessions
	inbound    map[string]*inboundLeg // inbound calls (Inbound), by UUID
}

// Command is one command a client sent, as received.
type Command struct {
	// Conn numbers the client connections from 1 in accept order.
	Conn int
	Time time.Time
	// Line is the first line, e.g. "bgapi originate {...}sofia/...".
	Line string
	// Name is the first word of Line, lower-cased ("auth", "event",
	// "api", "bgapi", "exit", ...); Args is the rest of the line.
	Name string
	Args string
	// Headers are the lines after the first, such as "Job-UUID: ...".
	Headers []Header
	Body    []byte
}

// Header returns the first header named name (case-insensitive) or "".
func (c Command) Header(name string) string {
	v, _ := lookup(c.Headers, name)
	return v
}

// Stats is what the server saw, for asserting that a client respected
// capacity limits.
type Stats struct {
	// Originates counts originate commands (api and bgapi).
	Originates int
	// MaxOriginatesPerSecond is the largest number of originate commands
	// received within any sliding one-second window.
	MaxOriginatesPerSecond int
	// Channels counts channels created; PeakChannels is the most that
	// were live at once.
	Channels     int
	PeakChannels int
	// ThrottleRejected and LimitRejected count originates refused by
	// SessionsPerSecond and MaxSessions.
	ThrottleRejected int
	LimitRejected    int
}

// ChannelInfo describes a live channel.
type ChannelInfo struct {
	UUID        string
	Name        string
	Destination string
	State       string // Channel-State, e.g. CS_EXECUTE
	CallState   string // Channel-Call-State, e.g. ACTIVE
	Answered    bool
	Created     time.Time
	Application string
	AppArgs     string
	CallerID    string
	CallerName  string
	Context     string
}

// New returns a server that is not yet listening; see Start.
func New(opts Options) *Server {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Hostname == "" {
		opts.Hostname = "esltest"
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = 25 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:     opts,
		coreUUID: newUUID(),
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*conn]struct{}),
		channels: make(map[string]*channel),
		scripts:  make(map[string][]Behaviour),
		hash:     make(map[string]string),
		spsTick:  -1, // no tick seen yet
	}
}

// Start creates a server, starts it and closes it when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := New(opts)
	if err := s.Start(context.Background()); err != nil {
		tb.Fatalf("esltest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start listens on 127.0.0.1 on a free port and serves until Close is
// called or ctx is done.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.mu.Lock()
	if s.closed || s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("esltest: server already started or closed")
	}
	s.ln = ln
	s.started = time.Now()
	s.stopWatch = context.AfterFunc(ctx, s.Close)
	s.mu.Unlock()
	s.wg.Go(s.acceptLoop)
	return nil
}

// Addr is the host:port to dial.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops listening, closes every connection, stops every call without
// further events and waits for all of the server's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	if s.stopWatch != nil {
		s.stopWatch()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Script sets what the far end does for calls to number: successive calls
// get successive behaviours and the last one repeats. With no behaviours
// the number falls back to Options.Default.
func (s *Server) Script(number string, bs ...Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(bs) == 0 {
		delete(s.scripts, number)
		return
	}
	s.scripts[number] = append([]Behaviour(nil), bs...)
}

// SetDefault replaces Options.Default.
func (s *Server) SetDefault(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Default = b
}

// Commands returns every command received so far, in arrival order.
func (s *Server) Commands() []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Command(nil), s.commands...)
}

// Originates returns every originate received so far, parsed, in arrival
// order, including refused and unparsable ones.
func (s *Server) Originates() []Originate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Originate(nil), s.originates...)
}

// ResetHistory forgets the commands and originates recorded so far (Stats
// are kept), so that a long benchmark measures its client's memory rather
// than the fake's record of every command.
func (s *Server) ResetHistory() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands, s.originates = nil, nil
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Channels returns the live channels, oldest first.
func (s *Server) Channels() []ChannelInfo {
	chans := s.liveChannels()
	infos := make([]ChannelInfo, len(chans))
	for i, c := range chans {
		infos[i] = c.info()
	}
	return infos
}

// Hangup hangs up a live channel with cause (default NORMAL_CLEARING) as if
// the far end or an operator did, and reports whether it existed. It
// returns once CHANNEL_HANGUP has been queued, or when ctx is done.
func (s *Server) Hangup(ctx context.Context, uuid, cause string) bool {
	c := s.channel(uuid)
	if c == nil {
		return false
	}
	if cause == "" {
		cause = CauseNormalClearing
	}
	c.requestHangup(ctx, parseCause(cause)) // also returns if the server closes: the call ends
	return true
}

// DropConnections closes every client connection at once, without a
// disconnect notice, as a crash or network failure would. Calls go on and
// the server keeps accepting connections.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.close()
	}
}

func (s *Server) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return // closed; Accept on a local listener has no transient errors worth retrying
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.nextConn++
		c := newConn(s, s.nextConn, nc)
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { c.serve(s.ctx) })
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

func (s *Server) record(cmd Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = append(s.commands, cmd)
}

// newEvent starts an event with the core headers FreeSWITCH puts first.
// Event-Sequence is filled in by fire.
func (s *Server) newEvent(name string) Event {
	file, fn, line := callSite(name)
	now := time.Now()
	return Event{Headers: []Header{
		{"Event-Name", name},
		{"Core-UUID", s.coreUUID},
		{"FreeSWITCH-Hostname", s.opts.Hostname},
		{"FreeSWITCH-Switchname", s.opts.Hostname},
		{"FreeSWITCH-IPv4", localIP},
		{"FreeSWITCH-IPv6", "::1"},
		{"Event-Date-Local", stamp(now)},
		{"Event-Date-GMT", now.UTC().Format(gmtFormat)},
		{"Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10)},
		{"Event-Calling-File", file},
		{"Event-Calling-Function", fn},
		{"Event-Calling-Line-Number", strconv.Itoa(line)},
		{"Event-Sequence", ""},
	}}
}

// gmtFormat is Event-Date-GMT's layout.
const gmtFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// callSite is where FreeSWITCH 1.10.12 fires each event (from the fixtures).
func callSite(name string) (file, function string, line int) {
	switch name {
	case "CHANNEL_CREATE":
		return "switch_core_state_machine.c", "switch_core_session_run", 626
	case "CHANNEL_PROGRESS":
		return "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505
	case "CHANNEL_ANSWER":
		return "switch_channel.c", "switch_channel_perform_mark_answered", 3846
	case "CHANNEL_HANGUP":
		return "switch_channel.c", "switch_channel_perform_hangup", 3445
	case "CHANNEL_HANGUP_COMPLETE":
		return "switch_core_state_machine.c", "switch_core_session_reporting_state", 943
	case "DTMF":
		return "switch_channel.c", "switch_channel_dequeue_dtmf", 677
	case "BACKGROUND_JOB":
		return "mod_event_socket.c", "api_exec", 1572
	case "CHANNEL_EXECUTE":
		return "switch_core_session.c", "switch_core_session_exec", 2944
	case "CHANNEL_EXECUTE_COMPLETE":
		return "switch_core_session.c", "switch_core_session_exec", 2967
	case "CUSTOM":
		return "mod_spandsp_fax.c", "phase_e_handler", 676
	case "CHANNEL_PARK":
		return "switch_ivr.c", "switch_ivr_park", 955
	case "SHUTDOWN":
		return "switch_core.c", "switch_core_destroy", 3023
	case "SHUTDOWN_REQUESTED":
		return "switch_core.c", "switch_core_session_ctl", 2822
	}
	return "switch_event.c", "switch_event_fire_detailed", 0
}

// fire numbers an event and queues it, rendered in each connection's
// format, on every connection subscribed to it. Numbering and queueing
// happen under one lock so every connection sees events in sequence order.
func (s *Server) fire(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fireLocked(ev)
}

// fireGone fires a channel's CHANNEL_HANGUP_COMPLETE and forgets the
// channel in the same step, so that a client that has seen the event never
// finds the channel in uuid_exists, show channels or the max-sessions
// count. (FreeSWITCH destroys the session a moment after the event.)
func (s *Server) fireGone(ev Event, c *channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channels[c.uuid] == c {
		delete(s.channels, c.uuid)
	}
	s.fireLocked(ev)
}

func (s *Server) fireLocked(ev Event) {
	if s.closed {
		return
	}
	s.seq++
	ev.set("Event-Sequence", strconv.FormatUint(s.seq, 10))
	var rendered [formatCount][]byte
	for c := range s.conns {
		f, ok := c.subscribed(ev)
		if !ok {
			continue
		}
		if rendered[f] == nil {
			rendered[f] = renderEvent(ev, f)
		}
		c.enqueue(rendered[f])
	}
}

// finishJob delivers the result of an originate: to the waiting api
// command, or as a BACKGROUND_JOB event for bgapi.
func (s *Server) finishJob(j *job, result string) {
	if j == nil {
		return
	}
	if j.result != nil {
		select {
		case j.result <- result:
		default:
		}
		return
	}
	ev := s.newEvent("BACKGROUND_JOB")
	ev.Headers = append(ev.Headers, Header{"Job-UUID", j.uuid}, Header{"Job-Command", j.command})
	if j.hasArg {
		ev.Headers = append(ev.Headers, Header{"Job-Command-Arg", j.arg})
	}
	ev.Body = []byte(result)
	s.fire(ev)
}

// behaviourFor picks the script step for a call to number.
func (s *Server) behaviourFor(number string) Behaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	steps, ok := s.scripts[number]
	if !ok {
		return s.opts.Default
	}
	b := steps[0]
	if len(steps) > 1 {
		s.scripts[number] = steps[1:]
	}
	return b
}

// noteOriginate records an originate and updates the rate statistics.
func (s *Server) noteOriginate(o Originate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.originates = append(s.originates, o)
	s.stats.Originates++
	keep := s.recent[:0]
	for _, t := range s.recent {
		if now.Sub(t) < time.Second {
			keep = append(keep, t)
		}
	}
	s.recent = append(keep, now)
	s.stats.MaxOriginatesPerSecond = max(s.stats.MaxOriginatesPerSecond, len(s.recent))
}

// admit creates and registers the channel for an originate, or returns the
// cause FreeSWITCH refuses it with. The checks follow
// switch_core_session_request_uuid: duplicate UUID, then the
// sessions-per-second budget, then max-sessions.
func (s *Server) admit(c *channel) (refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stopping {
		return "SYSTEM_SHUTDOWN"
	}
	if _, dup := s.channels[c.uuid]; dup {
		return CauseDestinationOutOfOrder
	}
	if n := s.opts.SessionsPerSecond; n > 0 {
		if tick := time.Since(s.started).Truncate(time.Second); tick != s.spsTick {
			s.spsTick, s.spsBudget = tick, n
		}
		s.spsBudget--
		if s.spsBudget <= 0 {
			s.stats.ThrottleRejected++
			return CauseDestinationOutOfOrder
		}
	}
	if n := s.opts.MaxSessions; n > 0 && len(s.channels)+1 > n {
		s.stats.LimitRejected++
		return CauseDestinationOutOfOrder
	}
	s.sessions++
	c.sessionID = s.sessions
	c.rtpPort = 16384 + 2*(s.sessions%8000)
	s.channels[c.uuid] = c
	s.stats.Channels++
	s.stats.PeakChannels = max(s.stats.PeakChannels, len(s.channels))
	return ""
}

func (s *Server) channel(uuid string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[uuid]
}

// liveChannels returns the live channels, oldest first.
func (s *Server) liveChannels() []*channel {
	s.mu.Lock()
	chans := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		chans = append(chans, c)
	}
	s.mu.Unlock()
	// Session numbers only grow, so they order channels by age.
	slices.SortFunc(chans, func(a, b *channel) int { return cmp.Compare(a.sessionID, b.sessionID) })
	return chans
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomUint32 feeds SSRCs and SIP tags.
func randomUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
