package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/esl/internal/eslgo"
)

// subscribedEvents is the explicit list the gateway listens to. Never
// "all" (EnableEvents) and never "log": a log/data frame stops eslgo's
// reader.
var subscribedEvents = []string{
	"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
}

// errConnGone is returned for a command on a connection that has ended.
var errConnGone = errors.New("esl: connection closed")

// rawCommand is a command line sent as is; eslgo appends the blank line.
type rawCommand string

func (r rawCommand) BuildMessage() string { return string(r) }

// conn is one authenticated, subscribed inbound connection to a node.
//
// eslgo matches replies to commands first in, first out, and releases its
// write lock before it reads the reply, so two commands in flight can take
// each other's replies; a command that timed out leaves its reply to be
// taken by the next one. conn therefore sends one command at a time (sem),
// never lets a caller's context abandon a command half way (commands get
// their own timeout), and gives up the whole connection when a command
// fails: the stream of replies can no longer be trusted.
type conn struct {
	ec      *eslgo.Conn
	cancel  context.CancelFunc // eslgo's running context: the fallback stop
	gone    chan struct{}      // closed once the connection is over
	endOnce *sync.Once
	sem     chan struct{} // one command at a time
	timeout time.Duration
	log     *slog.Logger
}

// dialConn connects, authenticates and subscribes. onEvent receives every
// event, each in its own goroutine (eslgo's way): in any order.
func dialConn(ctx context.Context, addr, password string, opts *Options, log *slog.Logger, onEvent func(*eslgo.Event)) (*conn, error) {
	runCtx, cancel := context.WithCancel(context.Background())
	c := &conn{
		cancel:  cancel,
		gone:    make(chan struct{}),
		endOnce: new(sync.Once),
		sem:     make(chan struct{}, 1),
		timeout: opts.CommandTimeout,
		log:     log,
	}
	in := eslgo.DefaultInboundOptions
	in.Context = runCtx
	in.Logger = eslLogger{log}
	in.Password = password
	in.AuthTimeout = opts.DialTimeout
	in.ExitTimeout = opts.CommandTimeout
	in.OnDisconnect = c.ended

	// eslgo dials without a timeout: an unreachable node could hold a
	// plain Dial for minutes. The dial runs aside; if it loses the race
	// its connection, should one appear, is closed the polite way.
	res := make(chan dialed, 1)
	go func() {
		ec, err := in.Dial(addr)
		res <- dialed{ec, err}
	}()
	timer := time.NewTimer(opts.DialTimeout)
	defer timer.Stop()
	select {
	case r := <-res:
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("connect %s: %w", addr, r.err)
		}
		c.ec = r.ec
	case <-ctx.Done():
		go c.abandon(res, opts)
		return nil, ctx.Err()
	case <-timer.C:
		go c.abandon(res, opts)
		return nil, fmt.Errorf("connect %s: no authenticated connection within %s", addr, opts.DialTimeout)
	}

	c.ec.RegisterEventListener(eslgo.EventListenAll, onEvent)
	reply, err := c.command("event plain " + strings.Join(subscribedEvents, " "))
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("subscribe: %s", reply)
	}
	if err != nil {
		c.close(opts.CloseTimeout)
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return c, nil
}

// dialed is the result of eslgo's Dial.
type dialed struct {
	ec  *eslgo.Conn
	err error
}

// abandon closes a connection whose dial outlived its caller.
func (c *conn) abandon(res <-chan dialed, opts *Options) {
	r := <-res
	if r.err != nil {
		c.cancel()
		return
	}
	c.ec = r.ec
	c.close(opts.CloseTimeout)
}

// ended marks the connection over; eslgo calls it on disconnect.
func (c *conn) ended() {
	c.endOnce.Do(func() { close(c.gone) })
}

func (c *conn) isGone() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// command sends one command line (with any header lines) and returns the
// reply text: Reply-Text for command/reply, the body for api/response.
// ctx bounds only the wait for the connection's turn.
func (c *conn) command(cmd string) (string, error) {
	return c.commandCtx(context.Background(), cmd)
}

func (c *conn) commandCtx(ctx context.Context, cmd string) (string, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.gone:
		return "", errConnGone
	}
	defer func() { <-c.sem }()
	if c.isGone() {
		return "", errConnGone
	}
	tctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	resp, err := c.ec.SendCommand(tctx, rawCommand(cmd))
	if err != nil {
		// The reply stream is out of step or the socket is dead: either
		// way this connection is finished.
		c.broken()
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "write" {
			return "", &sendError{err: err, unsent: true}
		}
		return "", &sendError{err: err}
	}
	if resp.HasHeader("Reply-Text") {
		return resp.GetHeader("Reply-Text"), nil
	}
	return string(resp.Body), nil
}

// sendError is a command that failed on the wire. unsent means the
// command never left: whatever it asked for did not happen.
type sendError struct {
	err    error
	unsent bool
}

func (e *sendError) Error() string { return "esl: command failed: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// api runs "api <cmd>" and returns its output without the trailing newline.
func (c *conn) api(ctx context.Context, cmd string) (string, error) {
	out, err := c.commandCtx(ctx, "api "+cmd)
	return strings.TrimRight(out, "\n"), err
}

// broken ends a connection that can no longer be trusted, without waiting.
func (c *conn) broken() {
	go c.stop(c.timeout)
}

// close ends the connection the polite way: "exit", after which
// FreeSWITCH answers and disconnects, and eslgo's disconnect loop closes
// its side. If no disconnect comes within timeout, it cancels eslgo's
// context and closes the socket itself. (Upstream eslgo v1.5.2 could not
// be closed by its caller without a data race; see internal/eslgo.)
func (c *conn) close(timeout time.Duration) {
	c.stop(timeout)
}

func (c *conn) stop(timeout time.Duration) {
	if c.ec == nil || c.isGone() {
		c.cancel()
		c.ended()
		return
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		select {
		case c.sem <- struct{}{}:
		case <-c.gone:
			return
		}
		defer func() { <-c.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, _ = c.ec.SendCommand(ctx, rawCommand("exit"))
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.gone:
		c.cancel()
	case <-t.C:
		c.log.Warn("esl: no disconnect after exit; closing the connection")
		c.cancel()
		c.ec.Close()
	}
	c.ended()
	<-sent
}

// eslLogger sends eslgo's messages to slog at debug level: its warnings
// are about situations the gateway detects and logs itself.
type eslLogger struct{ log *slog.Logger }

func (l eslLogger) Debug(format string, args ...any) {
	l.log.Debug("eslgo: " + fmt.Sprintf(format, args...))
}
func (l eslLogger) Info(format string, args ...any) {
	l.log.Debug("eslgo: " + fmt.Sprintf(format, args...))
}
func (l eslLogger) Warn(format string, args ...any) {
	l.log.Debug("eslgo: " + fmt.Sprintf(format, args...))
}
func (l eslLogger) Error(format string, args ...any) {
	l.log.Warn("eslgo: " + fmt.Sprintf(format, args...))
}
