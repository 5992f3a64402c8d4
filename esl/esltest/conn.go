package esltest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Command-side limits. mod_event_socket reads a command into a 1 MB buffer
// (CMD_BUFLEN); bodies (sendevent, sendmsg) are bounded like frames.
const (
	maxCommand = 1 << 20
	maxQueue   = 100000 // SWITCH_CORE_QUEUE_LEN: events beyond it are lost
)

// disconnectNotice is the goodbye FreeSWITCH sends before closing.
const disconnectNotice = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

type eventFormat int

const (
	formatPlain eventFormat = iota
	formatJSON
	formatXML
	formatCount
)

func (f eventFormat) String() string {
	return [...]string{"plain", "json", "xml"}[f]
}

// conn is one client connection. Its reader goroutine (serve) handles
// commands one at a time; its pump goroutine writes queued events, but not
// while a command is being handled, because mod_event_socket writes events
// from the same thread that reads commands. That is why a bgapi's
// "+OK Job-UUID" always precedes the job's events, and why events fired
// during a synchronous api command follow its api/response.
type conn struct {
	srv  *Server
	id   int
	nc   net.Conn
	br   *bufio.Reader
	done chan struct{} // closed by close

	wmu sync.Mutex // one frame at a time on nc

	authed bool // reader goroutine only

	mu       sync.Mutex
	cond     *sync.Cond
	eventsOn bool
	all      bool
	subs     map[string]bool
	custom   map[string]bool // CUSTOM subclasses (every word after CUSTOM)
	format   eventFormat
	filters  []Header
	queue    []outgoing
	busy     bool
	stalled  bool
	closed   bool
	lost     int
}

// outgoing is a queued event frame, or the marker that cuts the connection
// once everything before it has been written.
type outgoing struct {
	frame []byte
	drop  bool
}

func newConn(s *Server, id int, nc net.Conn) *conn {
	c := &conn{
		srv:    s,
		id:     id,
		nc:     nc,
		br:     bufio.NewReader(nc),
		done:   make(chan struct{}),
		subs:   make(map[string]bool),
		custom: make(map[string]bool),
	}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *conn) serve(ctx context.Context) {
	defer c.srv.removeConn(c)
	defer c.close()
	c.srv.wg.Go(c.pump)
	if !c.write(Frame{Headers: []Header{{"Content-Type", "auth/request"}}}.Bytes()) {
		return
	}
	for {
		deadline := time.Time{}
		if !c.authed {
			deadline = time.Now().Add(c.srv.opts.AuthTimeout)
		}
		if err := c.nc.SetReadDeadline(deadline); err != nil {
			return
		}
		cmd, err := readCommand(c.br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.sendDisconnect()
			}
			return
		}
		cmd.Conn, cmd.Time = c.id, time.Now()
		c.srv.record(cmd)
		c.setBusy(true)
		keep := c.handle(ctx, cmd)
		c.setBusy(false)
		if !keep {
			return
		}
	}
}

// readCommand reads one command: lines up to a blank line (CR tolerated,
// leading blank lines skipped, as read_packet does), the first being the
// command and the others "Name: value" headers, then a Content-Length body.
func readCommand(r *bufio.Reader) (Command, error) {
	var lines []string
	size := 0
	for {
		line, err := readLine(r, maxCommand-size)
		if err != nil {
			return Command{}, err
		}
		if line == "" {
			if len(lines) == 0 {
				continue
			}
			break
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	cmd := Command{Line: lines[0]}
	cmd.Name, cmd.Args, _ = strings.Cut(lines[0], " ")
	cmd.Name = strings.ToLower(cmd.Name)
	for _, l := range lines[1:] {
		// Lines without a colon are ignored, as in read_packet.
		if name, value, ok := strings.Cut(l, ":"); ok {
			cmd.Headers = append(cmd.Headers, Header{name, strings.TrimLeft(value, " ")})
		}
	}
	n, ok, err := contentLength(cmd.Headers)
	if err != nil {
		return Command{}, err
	}
	if ok {
		if cmd.Body, err = readBody(r, n); err != nil {
			return Command{}, err
		}
	}
	return cmd, nil
}

// handle runs one command; false means the connection must end. The
// matching mirrors parse_command: case-insensitive prefixes, exit allowed
// before auth, everything else before auth is "command not found".
func (c *conn) handle(ctx context.Context, cmd Command) bool {
	line := cmd.Line
	is := func(prefix string) bool { return hasPrefixFold(line, prefix) }
	switch {
	case is("exit"):
		c.reply("+OK bye")
		c.sendDisconnect()
		return false
	case !c.authed:
		if !is("auth ") {
			c.reply("-ERR command not found")
			return true
		}
		if line[len("auth "):] != c.srv.opts.Password {
			c.reply("-ERR invalid")
			c.sendDisconnect()
			return false
		}
		c.authed = true
		c.reply("+OK accepted")
	case is("api "):
		c.api(ctx, line[len("api "):])
	case is("bgapi "):
		c.bgapi(ctx, line[len("bgapi "):], cmd)
	case is("event"):
		c.reply(c.subscribe(line[len("event"):]))
	case is("nixevent"):
		c.reply(c.unsubscribe(line[len("nixevent"):]))
	case is("noevents"):
		c.reply(c.noEvents())
	case is("filter "):
		c.reply(c.filter(line[len("filter "):]))
	case is("nolinger"):
		c.reply("+OK will not linger")
	case is("linger"):
		c.reply("+OK will linger")
	case is("sendmsg"):
		c.reply(c.sendmsg(ctx, line[len("sendmsg"):], cmd))
	default:
		c.reply("-ERR command not found")
	}
	return true
}

// api runs a synchronous api command and answers with api/response.
func (c *conn) api(ctx context.Context, rest string) {
	name, arg, hasArg := strings.Cut(rest, " ")
	if strings.EqualFold(name, "originate") {
		c.originate(ctx, &job{command: name, arg: arg, hasArg: hasArg, result: make(chan string, 1)}, "api")
		return
	}
	c.apiResponse(c.srv.execAPI(ctx, name, arg, hasArg))
}

// bgapi acknowledges with the Job-UUID (the client's, from a Job-UUID
// header line, or a new one) and reports the result as BACKGROUND_JOB.
func (c *conn) bgapi(ctx context.Context, rest string, cmd Command) {
	id := cmd.Header("Job-UUID")
	if id == "" {
		id = newUUID()
	}
	name, arg, hasArg := strings.Cut(rest, " ")
	j := &job{uuid: id, command: name, arg: arg, hasArg: hasArg}
	if strings.EqualFold(name, "originate") {
		c.originate(ctx, j, "bgapi")
		return
	}
	c.jobReply(id)
	c.srv.wg.Go(func() { c.srv.finishJob(j, c.srv.execAPI(ctx, name, arg, hasArg)) })
}

// originate records and scripts an originate, then places the call.
func (c *conn) originate(ctx context.Context, j *job, via string) {
	o, perr := ParseOriginate(j.arg)
	o.Command, o.JobUUID = via, j.uuid
	var b Behaviour
	if perr == nil {
		if o.UUID == "" {
			o.UUID = newUUID()
		}
		b = c.srv.behaviourFor(o.Destination)
	}
	c.srv.noteOriginate(o)

	if b.Outcome == OutcomeStallConnection {
		c.stall()
		return
	}
	switch {
	case b.Drop == DropOnCommand:
		c.close()
	case j.result == nil:
		c.jobReply(j.uuid)
	}
	switch {
	case perr != nil:
		c.srv.finishJob(j, perr.Error()+"\n")
	case b.Outcome == OutcomeStall:
		// Accepted, and then nothing.
	default:
		ch := c.srv.newChannel(o, b, j, c)
		if refused := c.srv.admit(ch); refused != "" {
			c.srv.finishJob(j, "-ERR "+refused+"\n")
		} else {
			c.srv.wg.Go(func() { ch.run(c.srv.ctx) })
		}
	}
	if j.result == nil {
		return
	}
	// A synchronous originate holds the connection until the call is
	// answered or has failed.
	select {
	case r := <-j.result:
		c.apiResponse(r)
	case <-ctx.Done():
	case <-c.done:
	}
}

// subscribe handles "event [plain|json|xml] NAME...".
func (c *conn) subscribe(rest string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := 0
	inCustom := false
	for i, word := range eventWords(rest) {
		if i == 0 {
			if f, ok := parseFormat(word); ok {
				c.format = f
				continue
			}
		}
		if inCustom {
			// parse_command: once CUSTOM is seen, every word is a
			// subclass, event names included (shutdown_custom_last.txt).
			if word != "" {
				c.custom[word] = true
			}
			continue
		}
		name := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(word), "SWITCH_EVENT_"))
		if !knownEvent(name) {
			continue
		}
		keys++
		if name == "ALL" {
			c.all = true
		}
		if name == "CUSTOM" {
			inCustom = true
		}
		c.subs[name] = true
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.eventsOn = true
	return "+OK event listener enabled " + c.format.String()
}

// unsubscribe handles "nixevent NAME...".
func (c *conn) unsubscribe(rest string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := 0
	for _, word := range eventWords(rest) {
		name := strings.ToUpper(word)
		if !knownEvent(name) {
			continue
		}
		keys++
		if name == "ALL" {
			c.all = false
			clear(c.subs)
			continue
		}
		if c.all {
			// Nixing one event out of "all" keeps every other one.
			c.all = false
			delete(c.subs, "ALL")
			for _, n := range eventNames() {
				c.subs[n] = true
			}
		}
		delete(c.subs, name)
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.eventsOn = true
	return "+OK events nixed"
}

func (c *conn) noEvents() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = nil
	if !c.eventsOn {
		return "-ERR not listening for events"
	}
	c.eventsOn, c.all = false, false
	clear(c.subs)
	c.filters = nil
	return "+OK no longer listening for events"
}

// filter handles "filter [add] HEADER VALUE" and "filter delete HEADER
// [VALUE]|all". Once a filter exists an event is delivered only if one of
// its headers equals (case-insensitively) a filter's value; FreeSWITCH's
// regular-expression and negative filters are not modelled.
func (c *conn) filter(rest string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, value, hasValue := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if strings.EqualFold(name, "delete") && hasValue {
		name, value, _ = strings.Cut(value, " ")
		if strings.EqualFold(name, "all") {
			c.filters = nil
		} else {
			c.filters = slices.DeleteFunc(c.filters, func(h Header) bool {
				return strings.EqualFold(h.Name, name) && (value == "" || h.Value == value)
			})
		}
		return "+OK filter deleted. [" + name + "]=[" + value + "]"
	}
	if !hasValue {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		name, value, _ = strings.Cut(value, " ")
	}
	c.filters = append(c.filters, Header{name, value})
	return "+OK filter added. [" + name + "]=[" + value + "]"
}

// sendmsg supports "call-command: hangup" (with hangup-cause); other
// messages are acknowledged and ignored, except on an inbound call
// (Server.Inbound), which also runs "call-command: execute".
func (c *conn) sendmsg(ctx context.Context, rest string, cmd Command) string {
	uuid := strings.TrimSpace(rest)
	if uuid == "" {
		uuid = cmd.Header("session-id")
	}
	ch := c.srv.channel(uuid)
	if ch == nil {
		if leg := c.srv.inboundLeg(uuid); leg != nil {
			return leg.sendmsg(ctx, cmd)
		}
		return "-ERR invalid session id [" + uuid + "]"
	}
	if strings.EqualFold(cmd.Header("call-command"), "hangup") {
		cause := cmd.Header("hangup-cause")
		if cause == "" {
			cause = CauseNormalClearing
		}
		ch.requestHangup(ctx, parseCause(cause))
	}
	return "+OK"
}

// subscribed reports whether ev is to be sent on this connection, and in
// which format.
func (c *conn) subscribed(ev Event) (eventFormat, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.stalled || !c.eventsOn || !(c.all || c.subs[ev.Name()]) {
		return 0, false
	}
	if ev.Name() == "CUSTOM" && !c.all && !c.custom[ev.Get("Event-Subclass")] {
		return 0, false
	}
	if len(c.filters) > 0 {
		pass := false
		for _, f := range c.filters {
			if v, ok := lookup(ev.Headers, f.Name); ok && strings.EqualFold(v, f.Value) {
				pass = true
				break
			}
		}
		if !pass {
			return 0, false
		}
	}
	return c.format, true
}

func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= maxQueue {
		c.lost++
		return
	}
	c.queue = append(c.queue, outgoing{frame: frame})
	c.cond.Signal()
}

// dropAfterQueued cuts the connection once the events already queued are
// written.
func (c *conn) dropAfterQueued() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.queue = append(c.queue, outgoing{drop: true})
		c.cond.Signal()
	}
}

// pump writes queued events while no command is being handled.
func (c *conn) pump() {
	for {
		c.mu.Lock()
		for !c.closed && (len(c.queue) == 0 || c.busy || c.stalled) {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		next := c.queue[0]
		c.queue[0] = outgoing{}
		c.queue = c.queue[1:]
		c.mu.Unlock()
		if next.drop || !c.write(next.frame) {
			c.close()
			return
		}
	}
}

func (c *conn) setBusy(busy bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = busy
	if !busy {
		c.cond.Broadcast()
	}
}

// stall silences the connection for good: nothing more is written, while
// commands are still read and recorded.
func (c *conn) stall() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = true
	c.queue = nil
}

func (c *conn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

// close ends the connection without a goodbye; safe to call many times.
func (c *conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	close(c.done)
	c.cond.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
}

// write sends one whole frame; false if the connection is gone.
func (c *conn) write(frame []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(frame)
	return err == nil
}

func (c *conn) send(f Frame) {
	if !c.isStalled() {
		c.write(f.Bytes())
	}
}

func (c *conn) reply(text string) {
	c.send(Frame{Headers: []Header{{"Content-Type", "command/reply"}, {"Reply-Text", text}}})
}

func (c *conn) jobReply(id string) {
	c.send(Frame{Headers: []Header{
		{"Content-Type", "command/reply"},
		{"Reply-Text", "+OK Job-UUID: " + id},
		{"Job-UUID", id},
	}})
}

func (c *conn) apiResponse(body string) {
	c.send(Frame{
		Headers: []Header{{"Content-Type", "api/response"}, {"Content-Length", strconv.Itoa(len(body))}},
		Body:    []byte(body),
	})
}

func (c *conn) sendDisconnect() {
	c.send(Frame{
		Headers: []Header{{"Content-Type", "text/disconnect-notice"}, {"Content-Length", strconv.Itoa(len(disconnectNotice))}},
		Body:    []byte(disconnectNotice),
	})
}

// renderEvent frames an event as mod_event_socket does: Content-Length
// first, then Content-Type.
func renderEvent(ev Event, f eventFormat) []byte {
	var body []byte
	ct := "text/event-" + f.String()
	switch f {
	case formatJSON:
		body = encodeJSON(ev)
	case formatXML:
		body = encodeXML(ev)
	default:
		body = encodePlain(ev)
	}
	return Frame{
		Headers: []Header{{"Content-Length", strconv.Itoa(len(body))}, {"Content-Type", ct}},
		Body:    body,
	}.Bytes()
}

// eventWords splits what follows the first space of an event/nixevent
// command on single spaces, like the strchr loop of parse_command (empty
// words are then ignored as unknown event names).
func eventWords(rest string) []string {
	_, rest, ok := strings.Cut(rest, " ")
	if !ok || rest == "" {
		return nil
	}
	return strings.Split(rest, " ")
}

// hasPrefixFold is a case-insensitive strings.HasPrefix for ASCII prefixes,
// as strncasecmp is in parse_command.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func parseFormat(word string) (eventFormat, bool) {
	switch strings.ToLower(word) {
	case "plain":
		return formatPlain, true
	case "json":
		return formatJSON, true
	case "xml":
		return formatXML, true
	}
	return 0, false
}

// noticeAndDrop queues a text/disconnect-notice with body after the events
// already queued, then closes the connection (FreeSWITCH's shutdown).
func (c *conn) noticeAndDrop(body string) {
	frame := Frame{
		Headers: []Header{{"Content-Type", "text/disconnect-notice"}, {"Content-Length", strconv.Itoa(len(body))}},
		Body:    []byte(body),
	}.Bytes()
	c.mu.Lock()
	if !c.closed {
		c.queue = append(c.queue, outgoing{frame: frame}, outgoing{drop: true})
		c.cond.Signal()
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		c.close()
	}
}
