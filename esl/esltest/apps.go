package esltest

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// Application responses, as mod_dptools and mod_spandsp write them.
const (
	respFilePlayed    = "FILE PLAYED"
	respFileNotFound  = "FILE NOT FOUND"
	respPlaybackError = "PLAYBACK ERROR"
	respNone          = "_none_"
	respNoFaxFile     = "Cannot send non-existant fax file" // sic, mod_spandsp
)

// varCheck is switch_string_var_check_const: does s hold "${" (a
// backslash between them does not help)?
func varCheck(s string) bool {
	dol := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			dol = true
		case dol && s[i] == '{':
			return true
		case s[i] != '\\':
			dol = false
		}
	}
	return false
}

// expand replaces ${name} with the channel variable name ("" when unset),
// as switch_channel_expand_variables does for application data and hooks.
// c.mu is held.
func (c *channel) expand(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		if v, ok := c.vars.get(name); ok {
			b.WriteString(v)
		} else if name == "uuid" {
			b.WriteString(c.uuid)
		}
		s = s[i+j+1:]
	}
}

// fsctl supports "fsctl sps [N]" and "fsctl shutdown [elegant|asap]".
func (s *Server) fsctl(ctx context.Context, arg string) string {
	words := strings.Fields(arg)
	if len(words) == 0 {
		return "-USAGE: [recover|send_sighup|hupall|pause [inbound|outbound]|resume [inbound|outbound]|shutdown [cancel|elegant|asap|now|restart]|sps|sps_peak_reset|sync_clock|sync_clock_when_idle|reclaim_mem|max_sessions|min_dtmf_duration [num]|max_dtmf_duration [num]|default_dtmf_duration [num]|min_idle_cpu|loglevel [level]|debug_level [level]|mdns_resolve [enable|disable]]\n"
	}
	switch strings.ToLower(words[0]) {
	case "sps":
		s.mu.Lock()
		if len(words) > 1 {
			if n, err := strconv.Atoi(words[1]); err == nil && n >= 0 {
				s.opts.SessionsPerSecond = n
				s.spsTick = -1
			}
		}
		n := s.opts.SessionsPerSecond
		s.mu.Unlock()
		if n == 0 {
			n = 30 // FreeSWITCH's default; 0 here means unlimited
		}
		return "+OK sessions per second: " + strconv.Itoa(n) + "\n"
	case "shutdown":
		elegant := len(words) > 1 && strings.EqualFold(words[1], "elegant")
		s.endCalls(ctx, elegant)
		// The notices queue behind this reply: the connection writes
		// nothing else while its command runs.
		s.wg.Go(s.dropAll)
		return "+OK\n"
	}
	return "-ERR INVALID COMMAND\n"
}

// shutdownNotice is what FreeSWITCH sends every connection before it
// closes them on shutdown (shutdown.txt).
const shutdownNotice = "The system is being shut down.\n"

// Shutdown does what "fsctl shutdown" does (shutdown.txt): SHUTDOWN to its
// subscribers, every live call hung up with SYSTEM_SHUTDOWN, then a
// text/disconnect-notice on every connection and the sockets closed. With
// elegant, SHUTDOWN_REQUESTED (Event-Info: elegant) comes first and the
// calls run to their own end before the rest (shutdown_elegant.txt). The
// fake then serves again at once, as a switch restarted at the same
// address would: new connections and calls are accepted.
func (s *Server) Shutdown(ctx context.Context, elegant bool) {
	s.endCalls(ctx, elegant)
	s.dropAll()
}

// endCalls is the first part of a shutdown: the events, and the calls
// ended (or, elegant, waited for).
func (s *Server) endCalls(ctx context.Context, elegant bool) {
	if elegant {
		ev := s.newEvent("SHUTDOWN_REQUESTED")
		ev.Headers = append(ev.Headers, Header{"Event-Info", "elegant"})
		s.fire(ev)
		for len(s.liveChannels()) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	ev := s.newEvent("SHUTDOWN")
	ev.Headers = append(ev.Headers, Header{"Event-Info", "System Shutting Down"})
	s.fire(ev)
	for _, c := range s.liveChannels() {
		c.requestHangup(ctx, "SYSTEM_SHUTDOWN")
	}
	for _, c := range s.liveChannels() {
		select {
		case <-c.finished:
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
	}
}

// dropAll is the end of a shutdown: every connection gets the notice and
// is closed, and the switch serves again.
func (s *Server) dropAll() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.noticeAndDrop(shutdownNotice)
	}
	s.mu.Lock()
	s.stopping = false
	s.hash = make(map[string]string) // mod_hash lives in memory
	s.mu.Unlock()
}

// hashAPI is mod_hash's "hash insert|select|delete/<realm>/<key>[/<value>]"
// (the arguments split on '/', at most four, the value keeping the rest).
func (s *Server) hashAPI(arg string) string {
	parts := strings.SplitN(arg, "/", 4)
	if len(parts) < 3 {
		return "-ERR Usage: hash [insert|delete|select]/<realm>/<key>/<val>\n"
	}
	key := parts[1] + "/" + parts[2]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch strings.ToLower(parts[0]) {
	case "insert":
		if len(parts) < 4 {
			return "-ERR Usage: hash [insert|delete|select]/<realm>/<key>/<val>\n"
		}
		s.hash[key] = parts[3]
		return "+OK\n"
	case "select":
		return s.hash[key]
	case "delete":
		if _, ok := s.hash[key]; !ok {
			return "-ERR Not found\n"
		}
		delete(s.hash, key)
		return "+OK\n"
	}
	return "-ERR Usage: hash [insert|delete|select]/<realm>/<key>/<val>\n"
}

// Hash returns the mod_hash value of realm/key, for tests.
func (s *Server) Hash(realm, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.hash[realm+"/"+key]
	return v, ok
}

// hook prepares an api hook variable (api_hangup_hook, api_reporting_hook)
// as switch_core_state_machine's api_hook does: the command is the first
// word (or what precedes "::"), the rest is expanded from the channel's
// variables now. The returned func runs it; call it without c.mu. c.mu is
// held.
func (c *channel) hook(name string) func() {
	hook, ok := c.vars.get(name)
	if !ok || hook == "" {
		return func() {}
	}
	cmd, arg, found := strings.Cut(hook, "::")
	if !found {
		cmd, arg, _ = strings.Cut(hook, " ")
	}
	arg = c.expand(arg)
	return func() { c.srv.execAPI(context.Background(), cmd, arg, true) }
}

// appRun is the application of an answered call.
type appRun struct {
	name, data string // data expanded
	// failNow: the application ends at once with response (a file that
	// cannot be opened).
	failNow  bool
	response string
	fax      *faxOutcome // txfax of a file that exists
}

type faxOutcome struct {
	success bool
	code    int
	text    string
	pages   int
}

// startApp fires CHANNEL_EXECUTE for the originate's application and
// decides how it will end. c.mu is not held.
func (c *channel) startApp() *appRun {
	if c.orig.Application == "" {
		return nil
	}
	c.mu.Lock()
	app := &appRun{name: strings.ToLower(c.orig.Application), data: c.expand(c.orig.AppArgs)}
	c.appUUID = newUUID()
	c.vars.set("current_application_data", app.data)
	c.vars.set("current_application", c.orig.Application)
	ev := c.appEvent("CHANNEL_EXECUTE", app, "")
	c.mu.Unlock()
	c.srv.fire(ev)

	switch app.name {
	case "playback":
		if !playable(app.data) {
			app.failNow, app.response = true, respFileNotFound
		}
	case "txfax":
		data, err := os.ReadFile(app.data)
		switch {
		case err != nil:
			app.failNow, app.response = true, respNoFaxFile
		case (bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))) && c.beh.FaxFailure != 0:
			app.fax = &faxOutcome{code: c.beh.FaxFailure, text: c.beh.FaxText}
		case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
			app.fax = &faxOutcome{success: true, code: 0, text: "OK", pages: 1}
		default:
			app.fax = &faxOutcome{code: 41, text: "TIFF/F file cannot be opened"}
		}
	}
	return app
}

// playable is FreeSWITCH's file lookup for playback: streams and URLs
// play; a path with an extension (the last '.' anywhere in it) is opened
// by that extension; a path without one is never opened as given, but as
// <path>.PCMU and then <path>.wav (playback_missing.txt,
// playback_noext_wav_sibling.txt).
func playable(path string) bool {
	if strings.Contains(path, "://") {
		return true // tone_stream://, silence_stream://, http(s)://
	}
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return validFile(path+".PCMU", "PCMU") || validFile(path+".wav", "wav")
	}
	return validFile(path, path[i+1:])
}

// validFile: the file exists and its format module can open it.
func validFile(path, ext string) bool {
	switch strings.ToLower(ext) {
	case "wav":
		b, err := os.ReadFile(path)
		return err == nil && len(b) >= 44 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE"
	case "pcmu", "pcma", "raw", "r8", "r16", "au", "aiff", "flac", "ogg":
		st, err := os.Stat(path)
		return err == nil && st.Mode().IsRegular()
	}
	return false // "Invalid file format [ext]": a dotted directory, .tif, ...
}

// completeApp fires CHANNEL_EXECUTE_COMPLETE with the application's
// response (and, for playback that played, its playback_* variables).
func (c *channel) completeApp(app *appRun, response string) {
	if app == nil {
		return
	}
	c.mu.Lock()
	if response == respFilePlayed {
		c.appDoneVars(time.Now())
	}
	if response != respNone {
		c.vars.set("current_application_response", response)
	}
	ev := c.appEvent("CHANNEL_EXECUTE_COMPLETE", app, response)
	c.mu.Unlock()
	c.srv.fire(ev)
}

// faxResult fires spandsp's txfaxresult and sets the fax_* variables.
func (c *channel) faxResult(f *faxOutcome) {
	c.mu.Lock()
	v := &c.vars
	success := "0"
	if f.success {
		success = "1"
	}
	v.set("fax_success", success)
	v.set("fax_result_code", strconv.Itoa(f.code))
	v.set("fax_result_text", f.text)
	v.set("fax_document_transferred_pages", strconv.Itoa(f.pages))
	v.set("fax_document_total_pages", strconv.Itoa(f.pages))
	ev := c.srv.newEvent("CUSTOM")
	ev.Headers = append([]Header{{"Event-Subclass", "spandsp::txfaxresult"}}, ev.Headers...)
	ev.Headers = c.channelData(ev.Headers)
	for _, h := range c.vars {
		ev.Headers = append(ev.Headers, Header{"variable_" + h.Name, h.Value})
	}
	ev.Headers = append(ev.Headers,
		Header{"fax-success", success},
		Header{"fax-result-code", strconv.Itoa(f.code)},
		Header{"fax-result-text", f.text},
		Header{"fax-document-transferred-pages", strconv.Itoa(f.pages)},
		Header{"fax-document-total-pages", strconv.Itoa(f.pages)},
	)
	c.mu.Unlock()
	c.srv.fire(ev)
}

// appEvent is CHANNEL_EXECUTE(_COMPLETE): the channel event with the
// application's headers after the variables. c.mu is held.
func (c *channel) appEvent(name string, app *appRun, response string) Event {
	ev := c.event(name)
	ev.Headers = append(ev.Headers, Header{"Application", c.orig.Application}, Header{"Application-Data", app.data})
	if name == "CHANNEL_EXECUTE_COMPLETE" {
		ev.Headers = append(ev.Headers, Header{"Application-Response", response})
	}
	ev.Headers = append(ev.Headers, Header{"Application-UUID", c.appUUID})
	return ev
}
