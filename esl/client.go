package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// client is dialerd's inbound Event Socket client: one TCP connection to
// one FreeSWITCH, authenticated, with commands and replies and events.
//
// Its shape follows from the protocol. FreeSWITCH answers commands in the
// order it receives them, one reply each (command/reply or api/response),
// and sends events in between. So every command, at the moment it is
// written, appends a waiter to a FIFO, in write order (the write turn is
// taken before the waiter is queued), and the one reader goroutine hands
// each reply to the waiter at the head. A caller that gives up leaves its
// waiter in the queue: its reply, when it comes, is taken by that waiter
// and dropped, never by the command behind it. Events go to a queue that
// one dispatcher goroutine empties in arrival order. When the connection
// ends, for whatever reason, the reader fails every waiter, the dispatcher
// delivers the events read before the end, and then reports the end,
// exactly once. No lock is held while a command waits for its reply, and
// the write turn is held only for one write, bounded by a deadline.
type client struct {
	nc      net.Conn
	br      *bufio.Reader
	log     *slog.Logger
	wtime   time.Duration   // write deadline of one command
	onEvent func(frame)     // called in arrival order, on one goroutine
	onEnd   func(err error) // called once, after the last event
	wturn   chan struct{}   // the write turn: one command written at a time
	dead    chan struct{}   // closed when the connection is over
	done    chan struct{}   // closed after onEnd has returned
	wake    chan struct{}   // capacity 1: the dispatcher has work
	closeNC sync.Once       // the socket is closed exactly once
	bye     sync.Once       // "exit" is sent at most once

	mu      sync.Mutex
	waiters []chan result // one per command written, oldest first
	events  []frame       // read, not yet delivered
	spare   []frame       // the dispatcher's previous batch, for reuse
	err     error         // why the connection ended or is ending
	over    bool          // the reader has stopped and failed the waiters
}

// result is what a waiter receives: a reply frame or why there is none.
type result struct {
	f   frame
	err error
}

// Errors of the client.
var (
	errUnexpectedReply = errors.New("esl: a reply that no command asked for")
	errBadCommand      = errors.New("esl: a command must be one line plus header lines")
	errClosed          = errors.New("esl: connection closed by dialerd")
)

// disconnectError is FreeSWITCH's text/disconnect-notice.
type disconnectError struct{ text string }

func (e *disconnectError) Error() string {
	return "esl: FreeSWITCH disconnected: " + strings.TrimSpace(e.text)
}

// clientOptions are what dial needs besides the address.
type clientOptions struct {
	password string
	timeout  time.Duration // connect and authenticate, and each write
	log      *slog.Logger
	onEvent  func(frame)
	onEnd    func(error)
}

// dial connects and authenticates within o.timeout and ctx, then starts
// the reader and the dispatcher. Until it returns, nothing is reported:
// a failure is its error.
func dial(ctx context.Context, addr string, o clientOptions) (*client, error) {
	if strings.ContainsAny(o.password, "\r\n") {
		return nil, errors.New("esl: password contains a line break")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// A context that ends during the handshake unblocks its reads and
	// writes by moving the deadline into the past.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(nc, 32<<10)
	err = authenticate(nc, br, o.password)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = nc.SetDeadline(time.Time{})
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("auth: %w", err)
	}
	c := &client{
		nc:      nc,
		br:      br,
		log:     o.log,
		wtime:   o.timeout,
		onEvent: o.onEvent,
		onEnd:   o.onEnd,
		wturn:   make(chan struct{}, 1),
		dead:    make(chan struct{}),
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	go c.read()
	go c.dispatch()
	return c, nil
}

// authenticate waits for auth/request and answers it.
func authenticate(nc net.Conn, br *bufio.Reader, password string) error {
	f, err := readFrame(br)
	if err != nil {
		return err
	}
	if ct := f.get("Content-Type"); ct != ctAuthRequest {
		return fmt.Errorf("expected %s, got %q: %s", ctAuthRequest, ct, strings.TrimSpace(string(f.body)))
	}
	if _, err := nc.Write([]byte("auth " + password + "\n\n")); err != nil {
		return err
	}
	if f, err = readFrame(br); err != nil {
		return err
	}
	if reply := f.get("Reply-Text"); f.get("Content-Type") != ctCommand || !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("refused: %q", reply)
	}
	return nil
}

// send writes one command (a command line, optionally followed by header
// lines) and returns its reply frame. Errors:
//
//   - errConnGone: the connection was over; nothing was sent.
//   - *sendError with unsent: not sent (ctx done while waiting for the
//     write turn, or the write failed: FreeSWITCH runs nothing that lacks
//     its closing blank line).
//   - *sendError without unsent: sent, and no reply will come to this
//     caller (ctx done, or the connection ended first).
func (c *client) send(ctx context.Context, cmd string) (frame, error) {
	if cmd == "" || strings.Contains(cmd, "\n\n") || strings.ContainsAny(cmd, "\r") || strings.HasSuffix(cmd, "\n") {
		return frame{}, errBadCommand
	}
	select {
	case c.wturn <- struct{}{}:
	case <-c.dead:
		return frame{}, errConnGone
	case <-ctx.Done():
		return frame{}, &sendError{err: ctx.Err(), unsent: true}
	}
	w := make(chan result, 1) // the reader never blocks on it
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		<-c.wturn
		return frame{}, errConnGone
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	err := c.nc.SetWriteDeadline(time.Now().Add(c.wtime))
	if err == nil {
		_, err = c.nc.Write([]byte(cmd + "\n\n"))
	}
	if err != nil {
		// Closed before the turn passes on, so that nothing is written
		// after a partial command. The waiter stays queued: the reader
		// fails it when it sees the socket closed.
		c.shut(fmt.Errorf("write: %w", err))
	}
	<-c.wturn
	if err != nil {
		return frame{}, &sendError{err: err, unsent: true}
	}
	select {
	case r := <-w:
		return r.f, r.err
	case <-ctx.Done():
		return frame{}, &sendError{err: ctx.Err()}
	}
}

// read is the one goroutine that reads the socket.
func (c *client) read() {
	err := c.readLoop()
	c.mu.Lock()
	c.err = err // from now on no command queues a waiter
	waiters := c.waiters
	c.waiters = nil
	c.mu.Unlock()
	close(c.dead)
	c.closeSocket()
	for _, w := range waiters {
		w <- result{err: &sendError{err: fmt.Errorf("%w: %w", errConnGone, err)}}
	}
	// Only now may the dispatcher report the end: every command has had
	// its answer.
	c.mu.Lock()
	c.over = true
	c.mu.Unlock()
	c.signal()
}

func (c *client) readLoop() error {
	for {
		f, err := readFrame(c.br)
		if err != nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.err != nil { // shut says why better than the read error
				return c.err
			}
			return err
		}
		switch ct := f.get("Content-Type"); ct {
		case ctCommand, ctAPI:
			c.mu.Lock()
			if len(c.waiters) == 0 {
				c.mu.Unlock()
				return errUnexpectedReply
			}
			w := c.waiters[0]
			c.waiters[0] = nil
			c.waiters = c.waiters[1:]
			c.mu.Unlock()
			w <- result{f: f}
		case ctEventPlain:
			ev, err := parseEventPlain(f.body)
			if err != nil {
				// The frame itself was whole, so the stream is still in
				// step: lose this event, not the connection.
				c.log.Warn("esl: malformed event skipped", "err", err)
				continue
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			c.signal()
		case ctDisconnect:
			return &disconnectError{text: string(f.body)}
		default:
			// Nothing else is asked for (no log, no json, no xml);
			// whatever it is, it takes no reply's place.
			c.log.Debug("esl: frame ignored", "content_type", ct)
		}
	}
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dispatch delivers events in arrival order, then the end.
func (c *client) dispatch() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.events) == 0 && !c.over {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if len(c.events) == 0 {
			err := c.err
			c.mu.Unlock()
			c.onEnd(err)
			return
		}
		// Two buffers take turns, so that a steady stream of events
		// allocates nothing here.
		batch := c.events
		c.events, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		for i := range batch {
			c.onEvent(batch[i])
			batch[i] = frame{}
		}
		c.mu.Lock()
		c.spare = batch
		c.mu.Unlock()
	}
}

// shut ends the connection now, without a goodbye: the reader then stops
// with err (unless it had stopped already).
func (c *client) shut(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.closeSocket()
}

func (c *client) closeSocket() { c.closeNC.Do(func() { c.nc.Close() }) }

// close says goodbye: "exit", after which FreeSWITCH replies and closes
// the socket. If that has not happened within timeout, it closes the
// socket itself. It returns once the end has been reported.
func (c *client) close(timeout time.Duration) {
	c.bye.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, _ = c.send(ctx, "exit")
		select {
		case <-c.dead:
		case <-ctx.Done():
			c.log.Warn("esl: no disconnect after exit; closing the connection")
		}
		c.shut(errClosed)
	})
	<-c.done
}
