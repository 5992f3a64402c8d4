package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// subscribedEvents is the explicit list the gateway listens to: never
// "all", never "log" (the client would skip such frames, but there is no
// reason to have FreeSWITCH send them).
var subscribedEvents = []string{
	"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
}

// errConnGone is returned for a command on a connection that has ended.
var errConnGone = errors.New("esl: connection closed")

// conn is one authenticated, subscribed inbound connection to a node: the
// client (client.go) and what the gateway needs around it.
//
// Commands may run concurrently: the client matches each reply to its
// command. Each command is bounded by its own timeout as well as by the
// caller's context. A caller that gives up leaves the connection as it
// is (its late reply is dropped by the client); a command that times out
// ends the connection, because a FreeSWITCH that does not answer within
// the timeout is not one to keep sending to.
type conn struct {
	cl      *client
	gone    chan struct{} // closed once the connection is over
	endOnce sync.Once
	timeout time.Duration
	log     *slog.Logger
}

// dialConn connects, authenticates and subscribes, within ctx and
// opts.DialTimeout. onEvent receives every event, in the order
// FreeSWITCH sent them, on one goroutine.
func dialConn(ctx context.Context, addr, password string, opts *Options, log *slog.Logger, onEvent func(frame)) (*conn, error) {
	c := &conn{gone: make(chan struct{}), timeout: opts.CommandTimeout, log: log}
	cl, err := dial(ctx, addr, clientOptions{
		password: password,
		timeout:  opts.DialTimeout,
		log:      log,
		onEvent:  onEvent,
		onEnd: func(err error) {
			log.Debug("esl: connection ended", "err", err)
			c.ended()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	c.cl = cl
	reply, err := c.commandCtx(ctx, "event plain "+strings.Join(subscribedEvents, " "))
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("subscribe: %s", reply)
	}
	if err != nil {
		c.close(opts.CloseTimeout)
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return c, nil
}

// ended marks the connection over; the client calls it once.
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
// Only the command timeout bounds it.
func (c *conn) command(cmd string) (string, error) {
	return c.commandCtx(context.Background(), cmd)
}

func (c *conn) commandCtx(ctx context.Context, cmd string) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	f, err := c.cl.send(tctx, cmd)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err() // the caller gave up; the connection is fine
		}
		if errors.Is(err, context.DeadlineExceeded) {
			// No reply (or no write) within the timeout: a stalled node.
			c.broken()
		}
		return "", err
	}
	if f.get("Content-Type") == ctAPI {
		return string(f.body), nil
	}
	return f.get("Reply-Text"), nil
}

// bgapi runs "bgapi <cmd>" under a Job-UUID chosen by the caller, so
// that its BACKGROUND_JOB can be expected before it is sent. It returns
// the Reply-Text ("+OK Job-UUID: <job>" or "-ERR ...").
func (c *conn) bgapi(ctx context.Context, cmd, job string) (string, error) {
	return c.commandCtx(ctx, "bgapi "+cmd+"\nJob-UUID: "+job)
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
// FreeSWITCH answers and disconnects. If no disconnect comes within
// timeout, the client closes the socket itself. It returns once the end
// has been reported (gone is closed). Any number of calls close once.
func (c *conn) close(timeout time.Duration) {
	c.stop(timeout)
}

func (c *conn) stop(timeout time.Duration) {
	c.cl.close(timeout)
}
