package esl

import (
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Events the gateway subscribes to beside the channel life cycle, to read
// delivery and the node's own state. SHUTDOWN and SHUTDOWN_REQUESTED come
// before CUSTOM: FreeSWITCH takes every word after CUSTOM as a subclass
// (shutdown_custom_last.txt got no SHUTDOWN).
const (
	evExecuteComplete   = "CHANNEL_EXECUTE_COMPLETE"
	evCustom            = "CUSTOM"
	evShutdown          = "SHUTDOWN"
	evShutdownRequested = "SHUTDOWN_REQUESTED"
	subclassTxFaxResult = "spandsp::txfaxresult"
)

// deliveryEvents is the second "event plain" line sent on every connection.
// FreeSWITCH adds to a connection's subscriptions, it never replaces them.
// CHANNEL_PARK and spandsp::rxfaxresult are the inbound fax side (inbound.go).
var deliveryEvents = []string{evExecuteComplete, evPark, evShutdown, evShutdownRequested, evCustom, subclassTxFaxResult, subclassRxFaxResult, subclassAVMDBeep}

// Application responses mod_dptools writes for playback ("PLAYBACK
// ERROR", the third, is read as not delivered like any other), and the
// one of applications that set none.
const (
	respFilePlayed   = "FILE PLAYED"
	respFileNotFound = "FILE NOT FOUND"
	respNone         = "_none_"
)

// faxResult is what spandsp said of a fax: from its txfaxresult event
// (fax-*) or the fax_* channel variables, which carry the same values.
type faxResult struct {
	known   bool // any fax result header or variable present
	success bool
	code    int
	text    string
	pages   int
}

// parseDelivery reads the delivery and node-state headers of an event.
// get returns a header's decoded value, "" when absent.
func parseDelivery(get func(string) string, e *event) {
	e.info = get("Event-Info")
	switch e.name {
	case evExecuteComplete:
		e.app = get("Application")
		e.appData = get("Application-Data")
		e.appResponse = get("Application-Response")
		if e.appResponse == "" {
			e.appResponse = get("variable_current_application_response")
		}
		e.terminator = get("variable_playback_terminator_used")
		if strings.EqualFold(e.app, "rxfax") {
			e.fax = readFax(get, "variable_fax_success", "variable_fax_result_code", "variable_fax_result_text",
				"variable_fax_document_transferred_pages")
		}
	case evPark:
		e.inbound = get("variable_" + varInbound)
		e.dest = get("Caller-Destination-Number")
		e.caller = get("Caller-Caller-ID-Number")
	case evCustom:
		e.subclass = get("Event-Subclass")
		if e.subclass == subclassTxFaxResult || e.subclass == subclassRxFaxResult {
			e.fax = readFax(get, "fax-success", "fax-result-code", "fax-result-text", "fax-document-transferred-pages")
		}
	case evHangupComplete:
		// What the last application left: recovery reads delivery from it
		// when the application's own events were missed.
		e.app = get("variable_current_application")
		e.appResponse = get("variable_current_application_response")
		e.terminator = get("variable_playback_terminator_used")
		e.fax = readFax(get, "variable_fax_success", "variable_fax_result_code", "variable_fax_result_text",
			"variable_fax_document_transferred_pages")
		// mod_avmd sets it with its beep event: it stands in for an
		// avmd::beep missed while the connection was down.
		e.avmdDetect = strings.EqualFold(get("variable_avmd_detect"), "TRUE")
	}
}

func readFax(get func(string) string, success, code, text, pages string) faxResult {
	var f faxResult
	s, c := get(success), get(code)
	if s == "" && c == "" {
		return f
	}
	f.known = true
	f.success = s == "1"
	f.code, _ = strconv.Atoi(c)
	f.text = get(text)
	f.pages, _ = strconv.Atoi(get(pages))
	return f
}

// faxContentCodes are spandsp's T30_ERR_FILEERROR … T30_ERR_NOMEM: the
// document could not be read (41 "TIFF/F file cannot be opened", 42 no
// page, 43 incompatible format, 44-46 bad tags or header, 47 out of
// memory for pages). No route can send such a document.
func faxContentCode(code int) bool { return code >= 41 && code <= 47 }

// cutByKey marks d not delivered when a key of the callee ended the
// application: playback then still says FILE PLAYED, and speak ends as if
// done. The originate sets playback_terminators=none, so this is a
// dialplan or node default overriding it; the callee ended the message.
func cutByKey(e event, d *delivery) bool {
	if e.terminator == "" {
		return false
	}
	if d.delivered {
		d.delivered, d.at, d.failure = false, time.Time{}, dialer.CauseNotDelivered
	}
	return true
}

// delivery is what the events say of the message an answered call carried.
type delivery struct {
	delivered bool
	at        time.Time // when it was read as delivered
	failure   string    // dialer.Cause* when not delivered
	results   []dialer.Result
}

// readDelivery reads, from a call's events in order, whether its message
// got through. It is called only for answered calls.
//
//   - playback: its CHANNEL_EXECUTE_COMPLETE says FILE PLAYED (delivered),
//     FILE NOT FOUND (the file could not be opened: a media error) or
//     PLAYBACK ERROR (cut, usually by the callee's hangup).
//   - speak: it sets no response, so it delivered when it completed while
//     the channel was still up, with the text we sent intact.
//   - txfax: only spandsp's result counts (txfax's response is "_none_"
//     even when the fax failed): fax_success 1. A missing file produces
//     no fax result at all, only "Cannot send non-existant fax file".
func readDelivery(a dialer.Attempt, evs []event) delivery {
	var d delivery
	var hungUp bool
	var fax faxResult
	var faxResponse string
	sawPlayback := false
	for _, e := range evs {
		switch {
		case e.name == evHangup:
			hungUp = true
		case e.name == evExecuteComplete:
			switch {
			case isConfirmation(a, e):
				// The opt-out confirmation played: not the message.
			case strings.EqualFold(e.app, "playback") && a.Program == dialer.ProgramVoiceMessage:
				sawPlayback = true
				switch strings.ToUpper(e.appResponse) {
				case respFilePlayed:
					d.delivered, d.at, d.failure = true, eventTime(e), ""
				case respFileNotFound:
					d.failure = dialer.CauseMediaError
				default:
					d.failure = dialer.CauseNotDelivered
				}
				d.results = append(d.results, dialer.Result{Type: "playback", Name: "response", Data: e.appResponse})
				if cutByKey(e, &d) {
					d.results = append(d.results, dialer.Result{Type: "playback", Name: "terminator", Data: e.terminator})
				}
			case strings.EqualFold(e.app, "speak") && a.Program == dialer.ProgramVoiceTTS:
				switch {
				case speakFailed(a, e):
					d.failure = dialer.CauseMediaError
				case hungUp:
					d.failure = dialer.CauseNotDelivered
				default:
					d.delivered, d.at, d.failure = true, eventTime(e), ""
				}
				if cutByKey(e, &d) {
					d.results = append(d.results, dialer.Result{Type: "speak", Name: "terminator", Data: e.terminator})
				}
			case strings.EqualFold(e.app, "txfax") && a.Program == dialer.ProgramSendFax:
				faxResponse = e.appResponse
			}
		case e.name == evCustom && e.subclass == subclassTxFaxResult && e.fax.known:
			fax = e.fax
		case e.name == evHangupComplete:
			if e.fax.known && !fax.known {
				fax = e.fax
			}
			if !sawPlayback && a.Program == dialer.ProgramVoiceMessage && strings.EqualFold(e.app, "playback") {
				// The execute-complete was missed (a reconnect, recovery):
				// the channel's last response is playback's.
				switch strings.ToUpper(e.appResponse) {
				case respFilePlayed:
					d.delivered, d.at, d.failure = true, eventTime(e), ""
				case respFileNotFound:
					d.failure = dialer.CauseMediaError
				}
				cutByKey(e, &d)
			}
			if faxResponse == "" && a.Program == dialer.ProgramSendFax && strings.EqualFold(e.app, "txfax") {
				faxResponse = e.appResponse
			}
		}
	}
	if a.Program != dialer.ProgramSendFax {
		if !d.delivered && d.failure == "" {
			d.failure = dialer.CauseNotDelivered
		}
		return d
	}
	switch {
	case fax.known && fax.success:
		d.delivered = true
		for _, e := range evs {
			if e.fax.known && e.fax.success {
				d.at = eventTime(e)
				break
			}
		}
	case fax.known && faxContentCode(fax.code):
		d.failure = dialer.CauseMediaError
	case fax.known:
		d.failure = dialer.CauseFaxFailed
	case faxResponse != "" && faxResponse != respNone:
		// txfax refused before any fax session: the file is not there.
		d.failure = dialer.CauseMediaError
	default:
		d.failure = dialer.CauseFaxFailed
	}
	if fax.known {
		d.results = append(d.results,
			dialer.Result{Type: "fax", Name: "result_code", Data: strconv.Itoa(fax.code)},
			dialer.Result{Type: "fax", Name: "result_text", Data: fax.text},
			dialer.Result{Type: "fax", Name: "pages", Data: strconv.Itoa(fax.pages)})
	} else if faxResponse != "" {
		d.results = append(d.results, dialer.Result{Type: "fax", Name: "response", Data: faxResponse})
	}
	return d
}

// speakFailed: speak ran without the text we gave it (its variable did
// not reach the channel, or the argument was cut at a space, as in
// speak_spaces.txt), or reported an error.
func speakFailed(a dialer.Attempt, e event) bool {
	parts := strings.SplitN(e.appData, "|", 3)
	if len(parts) < 3 || strings.TrimSpace(parts[2]) == "" || strings.Contains(parts[2], "${") {
		return true
	}
	if want := normalizeTTS(a.Media.TTSText); want != "" && normalizeTTS(parts[2]) != want {
		return true
	}
	r := strings.ToUpper(e.appResponse)
	return strings.HasPrefix(r, "-ERR") || strings.Contains(r, "ERROR") || strings.Contains(r, "FAIL")
}

// deliveredEvent reports whether e, on its own, shows the message delivered
// (for ProgressDelivered as it happens).
func deliveredEvent(a dialer.Attempt, e event, hungUp bool) bool {
	switch {
	case isConfirmation(a, e):
		return false
	case e.name == evExecuteComplete && a.Program == dialer.ProgramVoiceMessage && strings.EqualFold(e.app, "playback"):
		return strings.EqualFold(e.appResponse, respFilePlayed)
	case e.name == evExecuteComplete && a.Program == dialer.ProgramVoiceTTS && strings.EqualFold(e.app, "speak"):
		return !hungUp && !speakFailed(a, e)
	case a.Program == dialer.ProgramSendFax && (e.name == evCustom || e.name == evHangupComplete):
		return e.fax.known && e.fax.success
	}
	return false
}

func eventTime(e event) time.Time {
	if !e.at.IsZero() {
		return e.at
	}
	return e.received
}
