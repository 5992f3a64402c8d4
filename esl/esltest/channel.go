package esltest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sofiaProfile is the SIP profile the fake's gateways live on.
const sofiaProfile = "external"

// channel is one outbound call leg, driven by its Behaviour in its own
// goroutine (run) the way a FreeSWITCH session has its own thread.
type channel struct {
	srv    *Server
	uuid   string
	orig   Originate
	beh    Behaviour
	job    *job
	origin *conn // the connection that asked for the call

	name, dest, gateway string
	cidNum, cidName     string
	sessionID, rtpPort  int
	ssrc                uint32
	callID              string
	timeout             time.Duration

	hangups    chan hangupRequest // uuid_kill and Server.Hangup
	broadcasts chan broadcast     // uuid_broadcast, in order
	finished   chan struct{}      // closed when run returns

	mu          sync.Mutex // guards the call state below
	vars        varList
	state       string // Channel-State
	stateNum    int    // Channel-State-Number
	callState   string // Channel-Call-State
	answerState string
	cause       string
	created     time.Time
	progressAt  time.Time
	answeredAt  time.Time
	hungupAt    time.Time
	peerSeen    bool // the peer answered at the SIP level (Caller-Network-Addr)
	executing   bool // answered and running the application
	reported    bool // in CS_REPORTING
	appUUID     string
	beeped      bool // mod_avmd reported the beep (avmd.go)
}

// hangupRequest asks a channel to hang up; done is closed once
// CHANNEL_HANGUP has been fired, so uuid_kill answers after it.
type hangupRequest struct {
	cause string
	done  chan struct{}
}

// job is the api or bgapi command a channel reports its result to.
type job struct {
	uuid    string // Job-UUID; empty for a synchronous api command
	command string
	arg     string
	hasArg  bool
	result  chan string // receives the reply of a synchronous api command
}

// run plays the channel's script. It returns early, firing nothing more,
// when the server shuts down.
func (c *channel) run(ctx context.Context) {
	defer close(c.finished)
	c.create()
	b := c.beh
	switch b.Outcome {
	case OutcomeAnswer:
		c.ring()
		if !c.await(ctx, b.Delay) {
			return
		}
		c.answer()
		c.talk(ctx)
	case OutcomeNoAnswer:
		c.ring()
		ringFor := b.RingFor
		if ringFor <= 0 {
			ringFor = c.timeout
		}
		if c.await(ctx, ringFor) {
			c.cancel(CauseNoAnswer, nil)
		}
	case OutcomeReject:
		if b.Ring {
			c.ring()
		}
		if c.await(ctx, b.Delay) {
			c.refuse()
		}
	}
}

// await waits d for the far end. The originate timeout, a hangup request
// or the server stopping end the wait early; in the first two cases the
// call is torn down and await returns false.
func (c *channel) await(ctx context.Context, d time.Duration) bool {
	left := c.timeout - time.Since(c.created)
	timedOut := d >= left
	if timedOut {
		d = left
	}
	req, alive := c.wait(ctx, d)
	switch {
	case !alive:
		return false
	case req != nil:
		c.cancel(req.cause, req)
		return false
	case timedOut:
		c.cancel(CauseNoAnswer, nil)
		return false
	}
	return true
}

// wait sleeps for d (forever if d < 0). It returns the hangup request that
// interrupted it, if any, and alive=false if the server is stopping.
func (c *channel) wait(ctx context.Context, d time.Duration) (req *hangupRequest, alive bool) {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return nil, false
	case r := <-c.hangups:
		return &r, true
	case <-timeout:
		return nil, true
	}
}

// talk runs the answered call: the application starts (CHANNEL_EXECUTE),
// the far end sends its DTMF, and after Talk the application ends (or,
// with park, the far end hangs up), unless this side hangs up first. An
// application that cannot start (a file that cannot be opened) ends at
// once and FreeSWITCH hangs up (playback_missing.txt, fax_missing_file.txt).
func (c *channel) talk(ctx context.Context) {
	app := c.startApp()
	if app != nil && app.failNow {
		c.completeApp(app, app.response)
		c.hangupAnswered(CauseNormalClearing, false, nil, nil)
		return
	}
	// cut is what the application answers when the call ends under it.
	cut := func() {
		resp := respNone
		if app != nil && app.name == "playback" {
			resp = respPlaybackError
		}
		c.completeApp(app, resp)
	}
	for _, digit := range c.beh.DTMF {
		req, alive, ended := c.talkWait(ctx, c.beh.dtmfGap(), app)
		if !alive || ended {
			return
		}
		if req != nil {
			c.hangupAnswered(req.cause, false, req, cut)
			return
		}
		c.dtmf(string(digit))
		if app != nil && c.terminates(app, digit) {
			// A terminator breaks playback, which still answers FILE
			// PLAYED (speak answers nothing); no application follows, so
			// FreeSWITCH hangs up.
			resp := respNone
			if app.name == "playback" {
				resp = respFilePlayed
			}
			c.completeApp(app, resp)
			c.hangupAnswered(CauseNormalClearing, false, nil, nil)
			return
		}
	}
	d := time.Duration(-1)
	if c.beh.Talk > 0 {
		d = max(0, c.beh.Talk-time.Since(c.answeredAt))
	}
	req, alive, ended := c.talkWait(ctx, d, app)
	switch {
	case !alive, ended:
	case req != nil:
		c.hangupAnswered(req.cause, false, req, cut)
	case app != nil && app.fax != nil:
		// The receiver hangs up once the document is through (or the
		// session failed); spandsp reports after that (fax_*.txt).
		c.hangupAnswered(CauseNormalClearing, true, nil, func() {
			c.faxResult(app.fax)
			c.completeApp(app, respNone)
		})
	case c.peerEndsCall():
		c.hangupAnswered(CauseNormalClearing, true, nil, func() { c.completeApp(app, respNone) })
	default:
		resp := respNone
		if app.name == "playback" {
			resp = respFilePlayed
		}
		c.completeApp(app, resp)
		c.hangupAnswered(CauseNormalClearing, false, nil, nil)
	}
}

// terminates tells whether digit ends the running playback or speak, as
// mod_dptools' DTMF callback decides: the playback_terminators variable,
// "*" when unset, "none" for no key, "any" for every key. It records the
// key in playback_terminator_used.
func (c *channel) terminates(app *appRun, digit rune) bool {
	if app.name != "playback" && app.name != "speak" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keys, ok := c.vars.get("playback_terminators")
	if !ok || keys == "" {
		keys = "*"
	}
	switch strings.ToLower(keys) {
	case "none":
		return false
	case "any":
		keys = "0123456789*#"
	}
	if !strings.ContainsRune(keys, digit) {
		return false
	}
	c.vars.set("playback_terminator_used", string(digit))
	return true
}

// peerEndsCall tells who ends a call when Talk runs out: with park (or a
// dialplan extension) the far end hangs up; any other application is taken
// to have finished, and FreeSWITCH hangs up, as playback does in
// answered.txt (sip_hangup_disposition send_bye).
func (c *channel) peerEndsCall() bool {
	return c.orig.Application == "" || strings.EqualFold(c.orig.Application, "park")
}

func (c *channel) create() {
	c.mu.Lock()
	c.created = time.Now()
	c.state, c.stateNum, c.callState, c.answerState = "CS_INIT", 2, "DOWN", "ringing"
	c.initVars()
	ev := c.event("CHANNEL_CREATE")
	c.mu.Unlock()
	c.srv.fire(ev)
	c.dropAt(DropAfterCreate)
}

// ring is the peer's 180 Ringing.
func (c *channel) ring() {
	c.mu.Lock()
	c.progressAt = time.Now()
	c.peerSeen = true
	c.state, c.stateNum, c.callState = "CS_CONSUME_MEDIA", 7, "DOWN"
	c.peerVars()
	ev := c.event("CHANNEL_PROGRESS")
	c.mu.Unlock()
	c.srv.fire(ev)
}

// answer is the peer's 200 OK: CHANNEL_ANSWER, then the originate returns
// (BACKGROUND_JOB) and the application starts.
func (c *channel) answer() {
	c.mu.Lock()
	c.answeredAt = time.Now()
	if c.progressAt.IsZero() {
		c.progressAt = c.answeredAt
	}
	c.peerSeen = true
	c.callState, c.answerState = "RINGING", "answered"
	c.mediaVars()
	ev := c.event("CHANNEL_ANSWER")
	c.mu.Unlock()
	c.srv.fire(ev)

	c.mu.Lock()
	c.executing = true
	c.state, c.stateNum, c.callState = "CS_EXECUTE", 4, "ACTIVE"
	c.execVars()
	c.mu.Unlock()
	c.srv.finishJob(c.job, "+OK "+c.uuid+"\n")
	c.dropAt(DropAfterAnswer)
}

func (c *channel) dtmf(digit string) {
	c.mu.Lock()
	ev := c.event("DTMF")
	ev.Headers = append(ev.Headers,
		Header{"DTMF-Digit", digit},
		Header{"DTMF-Duration", "2000"},
		Header{"DTMF-Source", "RTP"},
	)
	c.mu.Unlock()
	c.srv.fire(ev)
}

// hangupAnswered ends an answered call: the peer's BYE (byPeer) or ours.
// after runs between CHANNEL_HANGUP and the reporting state: the
// application still running ends then.
func (c *channel) hangupAnswered(cause string, byPeer bool, req *hangupRequest, after func()) {
	c.mu.Lock()
	c.hungupAt = time.Now()
	c.cause, c.answerState, c.stateNum = cause, "hangup", 10
	ev := c.event("CHANNEL_HANGUP")
	run := c.hangupHook()
	c.mu.Unlock()
	c.srv.fire(ev)
	req.ack()
	run()
	if after != nil {
		after()
	}

	disposition := "send_bye"
	if byPeer {
		disposition = "recv_bye"
	}
	c.report(func() {
		c.vars.set("sip_hangup_disposition", disposition)
		c.rtpStatsVars()
	})
	c.dropAt(DropAfterHangup)
}

// refuse is the peer's final error response.
func (c *channel) refuse() {
	name, status, phrase := c.beh.rejectCause()
	c.mu.Lock()
	c.hungupAt = time.Now()
	c.cause, c.answerState, c.state, c.stateNum = name, "hangup", "CS_CONSUME_MEDIA", 10
	c.peerSeen = c.peerSeen || !c.beh.Unreachable
	c.refusalVars(status, phrase, name)
	ev := c.event("CHANNEL_HANGUP")
	run := c.hangupHook()
	c.mu.Unlock()
	c.srv.fire(ev)
	run()

	// The channel reports before the originate returns (busy.txt,
	// unreachable.txt).
	c.report(nil)
	c.srv.finishJob(c.job, "-ERR "+name+"\n")
	c.dropAt(DropAfterHangup)
}

// cancel ends a call that was not answered from this side: originate
// timeout (NO_ANSWER) or uuid_kill. FreeSWITCH CANCELs the INVITE and the
// originate returns before the channel reports (noanswer.txt).
func (c *channel) cancel(cause string, req *hangupRequest) {
	c.mu.Lock()
	c.hungupAt = time.Now()
	c.cause, c.answerState, c.state, c.stateNum = cause, "hangup", "CS_CONSUME_MEDIA", 10
	if c.peerSeen {
		c.callState = "RINGING"
	}
	ev := c.event("CHANNEL_HANGUP")
	run := c.hangupHook()
	c.mu.Unlock()
	c.srv.fire(ev)
	req.ack()
	run()

	c.srv.finishJob(c.job, "-ERR "+cause+"\n")
	c.report(func() {
		c.vars.set("sip_hangup_disposition", "send_cancel")
		c.vars.set("sip_invite_failure_status", "487")
		c.vars.set("sip_invite_failure_phrase", "CANCEL")
	})
	c.dropAt(DropAfterHangup)
}

// report is CS_REPORTING: the CDR variables, CHANNEL_HANGUP_COMPLETE, and
// the session is gone (uuid_exists false, not in show channels). extra adds
// the variables that follow the CDR ones.
func (c *channel) report(extra func()) {
	c.mu.Lock()
	c.reported = true
	c.state, c.stateNum, c.callState = "CS_REPORTING", 11, "HANGUP"
	c.cdrVars()
	if extra != nil {
		extra()
	}
	// api_reporting_hook runs in CS_REPORTING, before the event.
	run := c.hook("api_reporting_hook")
	ev := c.event("CHANNEL_HANGUP_COMPLETE")
	c.mu.Unlock()
	run()
	c.srv.fireGone(ev, c)
}

// hangupHook prepares api_hangup_hook, which runs in CS_HANGUP after
// switch_channel_set_timestamps: the CDR variables are there already.
// c.mu is held.
func (c *channel) hangupHook() func() {
	if _, ok := c.vars.get("api_hangup_hook"); !ok {
		return func() {}
	}
	saved := append(varList(nil), c.vars...)
	c.cdrVars()
	run := c.hook("api_hangup_hook")
	c.vars = saved
	return run
}

// dropAt cuts the originating connection if the script says so at p.
func (c *channel) dropAt(p DropPoint) {
	if c.beh.Drop == p && c.origin != nil {
		c.origin.dropAfterQueued()
	}
}

// ack tells a uuid_kill waiting on the request that CHANNEL_HANGUP is out.
func (r *hangupRequest) ack() {
	if r != nil {
		close(r.done)
	}
}

// requestHangup asks the channel to hang up with cause and waits until it
// has fired CHANNEL_HANGUP, or has finished anyway.
func (c *channel) requestHangup(ctx context.Context, cause string) {
	req := hangupRequest{cause: cause, done: make(chan struct{})}
	select {
	case c.hangups <- req:
	default:
		return // a hangup is already on its way
	}
	select {
	case <-req.done:
	case <-c.finished:
	case <-ctx.Done():
	}
}

// event builds a channel event from the current state; c.mu is held.
func (c *channel) event(name string) Event {
	ev := c.srv.newEvent(name)
	if name == "CHANNEL_HANGUP_COMPLETE" {
		// switch_core_session_reporting_state adds it before the channel
		// data, which adds it again.
		ev.Headers = append(ev.Headers, Header{"Hangup-Cause", c.cause})
	}
	ev.Headers = c.channelData(ev.Headers)
	if name != "DTMF" {
		for _, v := range c.vars {
			ev.Headers = append(ev.Headers, Header{"variable_" + v.Name, v.Value})
		}
	}
	return ev
}

// channelData is switch_channel_event_set_data without the variables.
func (c *channel) channelData(h []Header) []Header {
	add := func(name, value string) { h = append(h, Header{name, value}) }
	add("Channel-State", c.state)
	add("Channel-Call-State", c.callState)
	add("Channel-State-Number", strconv.Itoa(c.stateNum))
	add("Channel-Name", c.name)
	add("Unique-ID", c.uuid)
	add("Call-Direction", "outbound")
	add("Presence-Call-Direction", "outbound")
	add("Channel-HIT-Dialplan", strconv.FormatBool(c.executing))
	add("Channel-Call-UUID", c.uuid)
	add("Answer-State", c.answerState)
	if c.cause != "" {
		add("Hangup-Cause", c.cause)
	}
	if !c.answeredAt.IsZero() {
		for _, dir := range []string{"Read", "Write"} {
			add("Channel-"+dir+"-Codec-Name", "PCMU")
			add("Channel-"+dir+"-Codec-Rate", "8000")
			add("Channel-"+dir+"-Codec-Bit-Rate", "64000")
		}
	}
	caller := func(name, value string) { add("Caller-"+name, value) }
	caller("Direction", "outbound")
	caller("Logical-Direction", "outbound")
	if c.executing {
		// Once the application runs, caller and callee are flipped.
		caller("Caller-ID-Name", "Outbound Call")
		caller("Caller-ID-Number", c.dest)
		if c.cidName != "" {
			caller("Orig-Caller-ID-Name", c.cidName)
			caller("Callee-ID-Name", c.cidName)
		}
		caller("Orig-Caller-ID-Number", c.cidNum)
		caller("Callee-ID-Number", c.cidNum)
	} else {
		if c.cidName != "" {
			caller("Caller-ID-Name", c.cidName)
		}
		caller("Caller-ID-Number", c.cidNum)
		if c.cidName != "" {
			caller("Orig-Caller-ID-Name", c.cidName)
		}
		caller("Orig-Caller-ID-Number", c.cidNum)
		caller("Callee-ID-Name", "Outbound Call")
		caller("Callee-ID-Number", c.dest)
	}
	if c.peerSeen {
		caller("Network-Addr", peerIP)
	}
	caller("ANI", c.cidNum)
	caller("Destination-Number", c.dest)
	caller("Unique-ID", c.uuid)
	caller("Source", "src/switch_ivr_originate.c")
	caller("Context", c.context())
	caller("Channel-Name", c.name)
	caller("Profile-Index", "1")
	caller("Profile-Created-Time", usec(c.created))
	caller("Channel-Created-Time", usec(c.created))
	caller("Channel-Answered-Time", usec(c.answeredAt))
	caller("Channel-Progress-Time", usec(c.progressAt))
	caller("Channel-Progress-Media-Time", "0")
	hungup := time.Time{}
	if c.reported {
		hungup = c.hungupAt
	}
	caller("Channel-Hangup-Time", usec(hungup))
	for _, name := range []string{"Transfer-Time", "Resurrect-Time", "Bridged-Time", "Last-Hold", "Hold-Accum"} {
		caller("Channel-"+name, "0")
	}
	caller("Screen-Bit", "true")
	caller("Privacy-Hide-Name", "false")
	caller("Privacy-Hide-Number", "false")
	return h
}

// context is the channel's Caller-Context: originate's context argument
// applies to an extension it transfers to, never to an &application
// (speak_spaces.txt: "the" was the context argument, the channel said
// default).
func (c *channel) context() string {
	if c.orig.Application != "" {
		return "default"
	}
	return c.orig.Context
}

func (c *channel) sipProfileName() string {
	if c.gateway != "" {
		return "gateway"
	}
	return sofiaProfile
}

func (c *channel) gatewayOr(fallback string) string {
	if c.gateway != "" {
		return c.gateway
	}
	return fallback
}

func (c *channel) endpointType() string {
	t, _, _ := strings.Cut(c.orig.Endpoint, "/")
	return t
}

// info is the channel's row for show channels and Server.Channels.
func (c *channel) info() ChannelInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ChannelInfo{
		UUID:        c.uuid,
		Name:        c.name,
		Destination: c.dest,
		State:       c.state,
		CallState:   c.callState,
		Answered:    !c.answeredAt.IsZero(),
		Created:     c.created,
		Application: c.orig.Application,
		AppArgs:     c.orig.AppArgs,
		CallerID:    c.cidNum,
		CallerName:  c.cidName,
		Context:     c.context(),
	}
}

// variable returns a channel variable for uuid_getvar.
func (c *channel) variable(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vars.get(name)
}

// usec formats a time as FreeSWITCH's microsecond timestamps, 0 for unset.
func usec(t time.Time) string { return strconv.FormatInt(uepoch(t), 10) }
