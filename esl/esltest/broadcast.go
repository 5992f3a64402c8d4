package esltest

import (
	"context"
	"os"
	"strings"
	"time"
)

// broadcast is one uuid_broadcast queued on a channel: what
// switch_ivr_broadcast parses from "<path>" or "<app>[!<cause>]::<args>".
type broadcast struct {
	app, args string
	hangup    string // the cause to hang up with after the app, "" none
}

func parseBroadcast(spec string) broadcast {
	app, args, found := strings.Cut(spec, "::")
	if !found {
		return broadcast{app: "playback", args: spec}
	}
	b := broadcast{app: app, args: args}
	if name, cause, ok := strings.Cut(app, "!"); ok {
		b.app, b.hangup = name, parseCause(cause)
	}
	return b
}

// uuidBroadcast is mod_commands' "uuid_broadcast <uuid> <spec> [aleg|bleg|both]".
// The broadcast is queued to the channel as a private event; the reply
// does not wait for it.
func (s *Server) uuidBroadcast(arg string) string {
	words := strings.Fields(arg)
	if len(words) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
	}
	c := s.channel(words[0])
	if c == nil {
		return "-ERR Invalid UUID\n"
	}
	select {
	case c.broadcasts <- parseBroadcast(words[1]):
	default:
		return "-ERR queue full\n"
	}
	return "+OK Message sent\n"
}

// talkWait is wait for an answered call running its application: a
// broadcast runs as FreeSWITCH runs it inside the application's media
// loop (switch_ivr_parse_all_events): nested, the application paused
// meanwhile. It returns ended when a broadcast hung the call up.
func (c *channel) talkWait(ctx context.Context, d time.Duration, app *appRun) (req *hangupRequest, alive, ended bool) {
	deadline := time.Now().Add(d)
	for {
		var timeout <-chan time.Time
		if d >= 0 {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			timeout = t.C
		}
		beep, stopBeep := c.beepTimer()
		defer stopBeep()
		select {
		case <-ctx.Done():
			return nil, false, false
		case r := <-c.hangups:
			return &r, true, false
		case <-timeout:
			return nil, true, false
		case <-beep:
			c.fireBeep()
		case b := <-c.broadcasts:
			start := time.Now()
			if ended, alive := c.runBroadcast(ctx, b, app); ended || !alive {
				return nil, alive, ended
			}
			deadline = deadline.Add(time.Since(start)) // the application was paused
		}
	}
}

// runBroadcast plays a broadcast playback (CHANNEL_EXECUTE, the file's
// length, CHANNEL_EXECUTE_COMPLETE) or runs hangup, then hangs up when the
// broadcast says so; the interrupted application ends under the hangup.
func (c *channel) runBroadcast(ctx context.Context, b broadcast, app *appRun) (ended, alive bool) {
	cut := func() {
		resp := respNone
		if app != nil && app.name == "playback" {
			resp = respPlaybackError
		}
		c.completeApp(app, resp)
	}
	switch strings.ToLower(b.app) {
	case "hangup":
		c.hangupAnswered(parseCause(cmpOr(b.args, CauseNormalClearing)), false, nil, cut)
		return true, true
	case "playback":
		c.fireNested("CHANNEL_EXECUTE", b, "")
		if !playable(b.args) {
			c.fireNested("CHANNEL_EXECUTE_COMPLETE", b, respFileNotFound)
			break
		}
		req, alive := c.wait(ctx, fileLength(b.args))
		if !alive {
			return false, false
		}
		if req != nil {
			c.hangupAnswered(req.cause, false, req, func() {
				c.fireNested("CHANNEL_EXECUTE_COMPLETE", b, respPlaybackError)
				cut()
			})
			return true, true
		}
		c.fireNested("CHANNEL_EXECUTE_COMPLETE", b, respFilePlayed)
	}
	if b.hangup != "" {
		c.hangupAnswered(b.hangup, false, nil, cut)
		return true, true
	}
	return false, true
}

// fireNested fires CHANNEL_EXECUTE(_COMPLETE) of a broadcast application.
func (c *channel) fireNested(name string, b broadcast, response string) {
	c.mu.Lock()
	if response != "" && response != respNone {
		c.vars.set("current_application_response", response)
	}
	ev := c.event(name)
	ev.Headers = append(ev.Headers, Header{"Application", b.app}, Header{"Application-Data", b.args})
	if name == "CHANNEL_EXECUTE_COMPLETE" {
		ev.Headers = append(ev.Headers, Header{"Application-Response", response})
	}
	ev.Headers = append(ev.Headers, Header{"Application-UUID", newUUID()})
	c.mu.Unlock()
	c.srv.fire(ev)
}

// fileLength is how long a file plays: a WAV's data at 8 kHz 16-bit mono,
// one second for anything else (a stream, a URL).
func fileLength(path string) time.Duration {
	st, err := os.Stat(path)
	if err != nil || !strings.HasSuffix(strings.ToLower(path), ".wav") || st.Size() <= 44 {
		return time.Second
	}
	return time.Duration(st.Size()-44) * time.Second / 16000
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
