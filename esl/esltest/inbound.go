package esltest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// InboundCall is a call from the network to one of our DIDs, as a trunk
// sends it to the public dialplan of configs/freeswitch: FreeSWITCH sets
// dialerd_inbound=fax and parks it, then does what a client's sendmsg asks
// (execute answer, execute rxfax, hangup), and the sending fax machine
// behaves as Fax says.
type InboundCall struct {
	UUID        string // "" picks one
	Destination string // Caller-Destination-Number, as the trunk sends it: 15550100100
	CallerID    string // Caller-Caller-ID-Number
	Fax         InboundFax
}

// InboundFax is what the far fax machine does once rxfax runs.
type InboundFax struct {
	// Success: spandsp received the document (fax_success 1) and rxfax
	// wrote TIFF to its file. Otherwise it fails with Code and Text
	// (49 "The call dropped prematurely" in fax_tiff_ok.txt's failed
	// sibling) and writes nothing.
	Success bool
	TIFF    []byte
	Pages   int
	Code    int
	Text    string
	// Duration is how long the fax session lasts (default 50 ms).
	Duration time.Duration
	// HangUp: the sender hangs up Duration into the session, before
	// spandsp reaches phase E (no rxfaxresult; rxfax completes after
	// CHANNEL_HANGUP with fax_success 0).
	HangUp bool
}

// inboundLeg is one inbound channel: the receiving leg of fax_tiff_ok.txt
// (loopback/5550100-b there, a sofia channel here), parked by the dialplan.
type inboundLeg struct {
	srv  *Server
	call InboundCall
	name string

	mu          sync.Mutex
	vars        varList
	state       string
	answerState string
	cause       string
	app         string // running application
	created     time.Time
	answeredAt  time.Time
	done        bool
	queue       chan struct{} // closed when the last application asked for has run
}

// Inbound places call on the switch: CHANNEL_CREATE, the dialplan's set
// and park (CHANNEL_EXECUTE, CHANNEL_EXECUTE_COMPLETE of set, CHANNEL_EXECUTE
// of park, CHANNEL_PARK). It returns the channel's UUID at once; the call
// then waits for sendmsg.
func (s *Server) Inbound(call InboundCall) string {
	if call.UUID == "" {
		call.UUID = newUUID()
	}
	if call.Fax.Duration <= 0 {
		call.Fax.Duration = 50 * time.Millisecond
	}
	l := &inboundLeg{srv: s, call: call, name: "sofia/" + sofiaProfile + "/" + call.CallerID + "@" + peerIP,
		state: "CS_INIT", answerState: "ringing", created: time.Now()}
	l.vars.set("direction", "inbound")
	l.vars.set("uuid", call.UUID)
	l.vars.set("call_uuid", call.UUID)
	l.vars.set("sip_from_user", call.CallerID)
	l.vars.set("sip_to_user", call.Destination)
	l.vars.set("sip_network_ip", peerIP)
	s.mu.Lock()
	if s.inbound == nil {
		s.inbound = map[string]*inboundLeg{}
	}
	s.inbound[call.UUID] = l
	s.mu.Unlock()

	l.fire("CHANNEL_CREATE", nil)
	l.mu.Lock()
	l.state = "CS_EXECUTE"
	l.mu.Unlock()
	l.runApp("set", "dialerd_inbound=fax", func() { l.vars.set("dialerd_inbound", "fax") })
	l.mu.Lock()
	l.app = "park"
	l.vars.set("current_application", "park")
	l.mu.Unlock()
	l.fire("CHANNEL_EXECUTE", []Header{{"Application", "park"}})
	l.fire("CHANNEL_PARK", nil)
	return call.UUID
}

func (s *Server) inboundLeg(uuid string) *inboundLeg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inbound[uuid]
}

// event is a channel event of the leg; l.mu is held.
func (l *inboundLeg) event(name string) Event {
	ev := l.srv.newEvent(name)
	add := func(n, v string) { ev.Headers = append(ev.Headers, Header{n, v}) }
	add("Channel-State", l.state)
	add("Channel-Name", l.name)
	add("Unique-ID", l.call.UUID)
	add("Call-Direction", "inbound")
	add("Presence-Call-Direction", "inbound")
	add("Channel-HIT-Dialplan", "true")
	add("Channel-Call-UUID", l.call.UUID)
	add("Answer-State", l.answerState)
	if l.cause != "" {
		add("Hangup-Cause", l.cause)
	}
	add("Caller-Direction", "inbound")
	add("Caller-Logical-Direction", "inbound")
	add("Caller-Caller-ID-Number", l.call.CallerID)
	add("Caller-Orig-Caller-ID-Number", l.call.CallerID)
	add("Caller-Network-Addr", peerIP)
	add("Caller-ANI", l.call.CallerID)
	add("Caller-Destination-Number", l.call.Destination)
	add("Caller-Unique-ID", l.call.UUID)
	add("Caller-Source", "mod_sofia")
	add("Caller-Context", "public")
	add("Caller-Channel-Name", l.name)
	add("Caller-Channel-Created-Time", usec(l.created))
	add("Caller-Channel-Answered-Time", usec(l.answeredAt))
	for _, v := range l.vars {
		add("variable_"+v.Name, v.Value)
	}
	return ev
}

func (l *inboundLeg) fire(name string, extra []Header) {
	l.mu.Lock()
	ev := l.event(name)
	ev.Headers = append(ev.Headers, extra...)
	l.mu.Unlock()
	l.srv.fire(ev)
}

// runApp is one dialplan or sendmsg application that completes at once.
func (l *inboundLeg) runApp(app, data string, run func()) {
	l.mu.Lock()
	l.vars.set("current_application", app)
	if data != "" {
		l.vars.set("current_application_data", data)
	}
	l.mu.Unlock()
	l.fire("CHANNEL_EXECUTE", []Header{{"Application", app}, {"Application-Data", data}})
	l.mu.Lock()
	if run != nil {
		run()
	}
	l.mu.Unlock()
	l.fire("CHANNEL_EXECUTE_COMPLETE", []Header{{"Application", app}, {"Application-Data", data}, {"Application-Response", respNone}})
}

// sendmsg runs what a client's sendmsg asks of the leg.
func (l *inboundLeg) sendmsg(ctx context.Context, cmd Command) string {
	// The reply comes at once; the channel's thread runs what was asked
	// after it, applications one after the other in the order sent.
	switch strings.ToLower(cmd.Header("call-command")) {
	case "hangup":
		cause := cmd.Header("hangup-cause")
		l.srv.wg.Add(1)
		go func() {
			defer l.srv.wg.Done()
			l.hangup(cause)
		}()
	case "execute":
		name, arg := cmd.Header("execute-app-name"), cmd.Header("execute-app-arg")
		var run func()
		switch strings.ToLower(name) {
		case "answer":
			run = l.answer
		case "rxfax":
			run = func() { l.rxfax(ctx, arg) }
		default:
			run = func() { l.runApp(name, arg, nil) }
		}
		l.mu.Lock()
		prev := l.queue
		next := make(chan struct{})
		l.queue = next
		l.mu.Unlock()
		l.srv.wg.Add(1)
		go func() {
			defer l.srv.wg.Done()
			defer close(next)
			if prev != nil {
				<-prev
			}
			run()
		}()
	}
	return "+OK"
}

// answer is mod_dptools' answer: EXECUTE, CHANNEL_ANSWER, EXECUTE_COMPLETE,
// as on fax_tiff_ok.txt's receiving leg.
func (l *inboundLeg) answer() {
	l.mu.Lock()
	l.vars.set("current_application", "answer")
	l.mu.Unlock()
	l.fire("CHANNEL_EXECUTE", []Header{{"Application", "answer"}})
	l.mu.Lock()
	l.answeredAt, l.answerState = time.Now(), "answered"
	l.vars.set("answer_epoch", strconv.FormatInt(l.answeredAt.Unix(), 10))
	l.mu.Unlock()
	l.fire("CHANNEL_ANSWER", nil)
	l.fire("CHANNEL_EXECUTE_COMPLETE", []Header{{"Application", "answer"}, {"Application-Response", respNone}})
}

// rxfax is spandsp's receive: EXECUTE, after the session the
// rxfaxresult CUSTOM event with the fax_* variables set, then
// EXECUTE_COMPLETE carrying them (fax_tiff_ok.txt, receiving leg).
func (l *inboundLeg) rxfax(ctx context.Context, path string) {
	l.mu.Lock()
	l.app = "rxfax"
	l.vars.set("current_application", "rxfax")
	l.vars.set("current_application_data", path)
	l.mu.Unlock()
	l.fire("CHANNEL_EXECUTE", []Header{{"Application", "rxfax"}, {"Application-Data", path}})
	f := l.call.Fax
	select {
	case <-time.After(f.Duration):
	case <-ctx.Done():
		return
	}
	success := f.Success && !f.HangUp
	if success && len(f.TIFF) > 0 {
		if err := os.WriteFile(path, f.TIFF, 0o640); err != nil {
			success = false
			f.Code, f.Text = 41, "TIFF/F file cannot be opened"
		}
	}
	if f.HangUp {
		f.Code, f.Text = 49, "The call dropped prematurely"
	}
	code, text, pages, ok := strconv.Itoa(f.Code), f.Text, strconv.Itoa(f.Pages), "0"
	if success {
		ok, code, text = "1", "0", "OK"
	} else {
		pages = "0"
	}
	l.mu.Lock()
	for _, kv := range [][2]string{{"fax_filename", path}, {"fax_success", ok}, {"fax_result_code", code},
		{"fax_result_text", text}, {"fax_document_transferred_pages", pages}, {"fax_document_total_pages", pages}} {
		l.vars.set(kv[0], kv[1])
	}
	l.mu.Unlock()
	if f.HangUp {
		// The sender's BYE ends the session: CHANNEL_HANGUP first, then
		// rxfax returns with what spandsp had, then the channel reports.
		if l.hangupStart("NORMAL_CLEARING") {
			l.fire("CHANNEL_EXECUTE_COMPLETE", []Header{{"Application", "rxfax"}, {"Application-Data", path}, {"Application-Response", respNone}})
			l.report()
		}
		return
	}
	l.fire("CUSTOM", []Header{{"Event-Subclass", "spandsp::rxfaxresult"}, {"fax-success", ok}, {"fax-result-code", code},
		{"fax-result-text", text}, {"fax-document-transferred-pages", pages}, {"fax-document-total-pages", pages}})
	l.fire("CHANNEL_EXECUTE_COMPLETE", []Header{{"Application", "rxfax"}, {"Application-Data", path}, {"Application-Response", respNone}})
}

// hangup ends the leg: CHANNEL_HANGUP, park's EXECUTE_COMPLETE (it was
// still running, as in uuid_exists_live.txt), CHANNEL_HANGUP_COMPLETE.
func (l *inboundLeg) hangup(cause string) {
	if l.hangupStart(cause) {
		l.report()
	}
}

// hangupStart fires CHANNEL_HANGUP once; false when the leg was already
// hanging up.
func (l *inboundLeg) hangupStart(cause string) bool {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return false
	}
	l.done = true
	l.cause = parseCause(cause)
	if l.cause == "" {
		l.cause = CauseNormalClearing
	}
	l.answerState, l.state = "hangup", "CS_HANGUP"
	l.vars.set("hangup_cause", l.cause)
	l.mu.Unlock()
	l.fire("CHANNEL_HANGUP", nil)
	return true
}

// report ends the parked application and reports the channel gone.
func (l *inboundLeg) report() {
	l.fire("CHANNEL_EXECUTE_COMPLETE", []Header{{"Application", "park"}, {"Application-Response", respNone}})
	l.mu.Lock()
	l.state = "CS_REPORTING"
	billsec := 0
	if !l.answeredAt.IsZero() {
		billsec = int(time.Since(l.answeredAt) / time.Second)
	}
	l.vars.set("billsec", strconv.Itoa(billsec))
	l.vars.set("end_uepoch", strconv.FormatInt(time.Now().UnixMicro(), 10))
	l.mu.Unlock()
	l.fire("CHANNEL_HANGUP_COMPLETE", nil)
	l.srv.mu.Lock()
	delete(l.srv.inbound, l.call.UUID)
	l.srv.mu.Unlock()
}
