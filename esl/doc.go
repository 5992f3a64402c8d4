// Package esl is dialerd's FreeSWITCH gateway: it delivers voice and fax
// attempts (voicemessage, voicetts, sendfax) through FreeSWITCH nodes over
// the inbound Event Socket, with its own client (client.go, frame.go), and
// receives the fax calls the dialplan parks for dialerd (inbound.go).
//
// # Nodes and connections
//
// A node is an enabled FreeSWITCH PBX profile (ApplyNode, RemoveNode; the
// PBX profiles API and start-up drive them). Each has exactly one
// persistent connection, never one per call: authenticated, subscribed to
// an explicit list of events (BACKGROUND_JOB, CHANNEL_CREATE,
// CHANNEL_PROGRESS, CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER, CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE, DTMF, and then the delivery events below; never
// "all", never "log"), watched by a heartbeat ("api status") and reconnected
// after a failure with capped exponential back-off and jitter. While a
// node is down, Deliver refuses its attempts at once (ErrNodeDown) and
// NodeHealth, which /readyz shows as "esl:<id>", says why.
//
// # An attempt
//
// Deliver validates the attempt (CheckAttempt's rules) and builds the originate from validated
// parts only (buildOriginate: E.164 destination, digits-only caller id
// number and prefix, a caller id name with no character that means
// anything to FreeSWITCH, media paths and URLs from a safe alphabet,
// values escaped for each of FreeSWITCH's three splits: blanks, commas,
// '='). It takes a session slot (max-sessions) and a pacing slot
// (sessions-per-second: FreeSWITCH lets N-1 through per second, so the
// gateway spaces originates (1 s + 20 ms)/(N-1) apart, without burst),
// registers the call's channel UUID (the spool's) and its Job-UUID (chosen
// here) with the node, and only then sends
//
//	bgapi originate {origination_uuid=...,originate_timeout=...,...}sofia/gateway/NAME/NUMBER &playback(...)
//	Job-UUID: ...
//
// The application is playback of the recording (a path for a node on this
// host, the URL dialerd serves otherwise), speak with the text in the
// channel variable dialerd_tts (the command line is split on spaces), or
// txfax of the TIFF (local nodes only).
//
// # Events, in any order
//
// The connection delivers events in the order FreeSWITCH sent them, one at
// a time. That order is still not one to decide on: BACKGROUND_JOB comes
// after CHANNEL_ANSWER on success and before or after
// CHANNEL_HANGUP_COMPLETE on failure, and the events of a call can span two
// connections. The node routes each event to its call by Unique-ID or
// Job-UUID; the call sorts what it has by Event-Sequence on every wake-up
// and decides from the whole picture, never from the order of arrival. CHANNEL_HANGUP_COMPLETE
// ends a call, as does a "-ERR" BACKGROUND_JOB when no channel event was
// seen; either way the call waits Options.Settle for stragglers. A -ERR
// while the channel lives (no answer: the job result precedes
// HANGUP_COMPLETE) waits for HANGUP_COMPLETE. Progress callbacks
// (ringing, answered, each digit) are held Options.Reorder so that a
// straggler can overtake, and come in order from Deliver's goroutine. The
// Outcome takes its Cause from Hangup-Cause, SIPCode from
// variable_sip_term_status, Billsec from variable_billsec, Start, Connect
// and End from the event timestamps (the CDR variables of
// HANGUP_COMPLETE fill in for missed events), and Results in
// Event-Sequence order: each DTMF digit, then the hangup cause, billsec
// and SIP status. A call with a maximum duration gets
// execute_on_answer=sched_hangup, and the gateway backs it up with
// uuid_kill once it is over time. Nothing waits forever: ctx, and a hard
// limit of ring timeout + maximum duration + Options.HardMargin.
//
// # Delivery is read, not assumed
//
// Each connection also subscribes to CHANNEL_EXECUTE_COMPLETE, SHUTDOWN,
// SHUTDOWN_REQUESTED and CUSTOM spandsp::txfaxresult, in that order:
// FreeSWITCH takes every word after CUSTOM as a subclass, so a SHUTDOWN
// after it is never delivered (shutdown_custom_last.txt). An answered call
// is Delivered only when FreeSWITCH said the message got through:
//
//   - playback: its CHANNEL_EXECUTE_COMPLETE says FILE PLAYED (and
//     ProgressDelivered is reported then). FILE NOT FOUND, which comes at
//     once for a file it could not open, is dialer.CauseMediaError; PLAYBACK
//     ERROR (cut, usually by a hangup) is dialer.CauseNotDelivered. When the
//     execute-complete was missed (a reconnect, recovery) the channel's
//     current_application_response at HANGUP_COMPLETE stands in.
//   - speak sets no response: it delivered when it completed before the
//     hangup with the text that was sent; a text that did not reach the
//     engine intact (speak_spaces.txt: cut at its first space) is a media
//     error.
//   - txfax: only spandsp's result counts. Its Application-Response is
//     _none_ whether the fax went through or not. fax_success 1 (from
//     txfaxresult or the fax_* variables of HANGUP_COMPLETE) is delivered;
//     result codes 41-47 (the document cannot be read) and a missing file
//     (no fax result at all, only "Cannot send non-existant fax file") are
//     media errors, the content's; any other failure is dialer.CauseFaxFailed.
//     The result code, text and pages go into Outcome.Results.
//
// What the gateway cannot carry never reaches FreeSWITCH: CheckAttempt and
// Deliver refuse, as a dialer.ContentFault naming the API field, a text
// the builder refuses ("text"), a bad prefix, dial string, provider name or
// number ("prefix", "dialstring", "name", "phone"), and a recording that is
// not an existing .wav file ("recording_id": FreeSWITCH never opens an
// extension-less path as given, it tries <path>.PCMU and <path>.wav, and a
// dot in a directory becomes a wrong extension) or a fax document that is
// not a .tif ("document_id").
//
// # Opt-out key
//
// Every voicemessage and voicetts originate sets playback_terminators=none:
// playback's and speak's default terminator * would end the message, and
// playback would still report FILE PLAYED. A message a key ended anyway
// (a node's own setting) is read from playback_terminator_used as not
// delivered. With Media.OptOutDigit, when a DTMF event of the answered
// call carries the key, the follower calls Attempt.OptOut and waits (at most 5 s; the message plays
// on meanwhile). Only when it returned nil, and the call is still up, is
// the confirmation (Media.OptOutConfirmPath, or its URL for a remote node)
// sent: "uuid_broadcast <uuid> playback!NORMAL_CLEARING::<file> aleg",
// which FreeSWITCH runs inside the message's playback (paused meanwhile)
// and follows with a hangup; the message's playback then ends PLAYBACK
// ERROR. Without a confirmation, or when the opt-out failed, the call is
// killed (uuid_kill NORMAL_CLEARING). The confirmation's own FILE PLAYED is
// told from the message's by its file (so it must be another file: the
// check refuses the message itself) and is never a delivery. The outcome
// is OptedOut with Failure OPTED_OUT and the result optout/digit, or
// MESSAGE_CUT with optout/error; a message that had played to its end
// stays delivered. A key pressed as the callee hung up still opts out.
//
// # Answering machines: mod_avmd
//
// Each (re)connection asks "api module_exists mod_avmd"; the answer is
// the node's capability until the next connection. A voicemessage with
// Media.OnMachine is refused, as the content's fault naming on_machine
// (ErrNoAVMD), by CheckAttempt (so the API refuses the program) and by
// Deliver, on a node without it, on a node not asked yet, and, when no
// node is named, when no node of the tenant has it; Place's choice of a
// node skips those that lack it. The originate then carries
// execute_on_answer_dialerd_avmd=avmd_start (FreeSWITCH runs every
// variable named execute_on_answer*, so it sits beside sched_hangup) and
// subscribes CUSTOM avmd::beep, which mod_avmd fires with the channel's
// Unique-ID when it hears the beep (it also sets avmd_detect=TRUE and
// runs execute_on_avmd_beep). mod_avmd hears beeps, not people: the
// verdict is machine after an avmd::beep and unknown otherwise, never
// human (HANGUP_COMPLETE's variable_avmd_detect=TRUE stands in for an
// avmd::beep missed during a reconnect). The policies: play plays at once and records the verdict;
// hang_up plays at once and kills the call on the beep (MACHINE_HANGUP
// when the message had not played to its end: the machine recorded
// nothing, since it records only after its beep); play_after_beep
// originates with park instead of the playback and, on the beep or
// Options.BeepWait (6 s) after the answer without one, broadcasts the
// message with a hangup after it (uuid_broadcast <uuid>
// playback!NORMAL_CLEARING::<file> aleg), whose FILE PLAYED is the
// delivery as usual. A parked call dialerd stops following before the
// broadcast ends at its sched_hangup.
//
// # Route faults
//
// Place picks the node without any I/O (the provider's, or the least busy
// usable node of the tenant) and names it in the route, so the spool
// records it for recovery. A node that is down, draining or shutting down
// is refused as the route's fault (no try spent), a tenant without nodes
// as configuration (dialer.CauseNotConfigured, "node_id"). An originate
// that never got a channel is the route's fault too, returned as an error
// at once: -ERR DESTINATION_OUT_OF_ORDER over the sessions-per-second
// budget or max-sessions (sps_limit.txt: no CREATE, no HANGUP_COMPLETE
// ever comes), "+OK" and then nothing, a connection lost before any
// channel event. SHUTDOWN and SHUTDOWN_REQUESTED take the node out of
// service at once; its next connection puts it back and calls
// Options.OnRouteUp, as every (re)connection does.
//
// # Lost connections and recovery
//
// When a node's connection drops mid-call the call keeps going on
// FreeSWITCH, and its events of that moment are lost. The attempt waits
// up to Options.ReconnectGrace for the connection to come back, asks
// uuid_exists, and either keeps following the call (its events flow on the
// new connection, which routes by UUID like the old) or, when it is gone,
// reads how it ended from its call record (below); without one it ends as
// CauseConnectionLost with what it knew (an answered call stays answered).
// The same happens when the originate was written but its reply was lost.
//
// After a restart, Recover (dialer.Recoverer) asks the node that placed
// the call (RecoverSpool.Attempt.Provider.Node): a live call is followed to
// its end as Deliver would, with what the store knew of its answer and
// delivery; a call that is over is closed from its record; no record is
// dialer.ErrCallGone, and a node that cannot be asked dialer.ErrCallUnknown.
//
// # Call records: outcomes that survive dialerd being down
//
// Every originate carries
//
//	origination_nested_vars=true
//	api_reporting_hook=hash insert/dialerd/<uuid>/v1;${hangup_cause};${billsec};...
//
// so that FreeSWITCH itself stores how the call ended in mod_hash, keyed by
// the call's UUID, whether or not dialerd is listening; recovery reads it
// with "hash select/dialerd/<uuid>" and removes it with "hash delete" (as
// does a call followed to its end). The record holds the hangup cause,
// billsec, the start, answer and end times, the SIP status, spandsp's fax
// result and the last application with its response (see record.go). Why
// this way:
//
//   - api_reporting_hook, not api_hangup_hook: both are expanded when they
//     run (switch_core_state_machine's api_hook expands the argument from
//     the channel's variables), but the hangup hook runs in CS_HANGUP,
//     while the application may still be finishing: txfax's result comes
//     after CHANNEL_HANGUP (fax_bad_file.txt). The reporting hook runs in
//     CS_REPORTING, right before CHANNEL_HANGUP_COMPLETE, when every
//     variable the outcome needs is final; so a record exists exactly when
//     a HANGUP_COMPLETE was fired.
//   - origination_nested_vars=true: without it originate refuses to set a
//     variable whose value holds "${" ("Invalid data ... contains a
//     variable") and the hook would silently be missing. The builder refuses
//     '$' in every other value, so this lets nothing else through.
//   - mod_hash, not a file or a database: it is in the stock build, answers
//     over the connection dialerd already has, needs no configuration and
//     no credentials, and costs one insert per call. Its limit: it lives in
//     FreeSWITCH's memory, so a FreeSWITCH restart loses the records (and
//     its calls, which end SYSTEM_SHUTDOWN, with nobody to tell); such
//     spools are dialer.ErrCallGone and closed from what the store knew.
//   - The value escapes correctly through originate's three splits (blank,
//     ',' and the first '='): it holds no ',' or '=', its spaces are escaped
//     by escapeVarValue, and its braces are the balanced ${...} that the
//     variable block's own bracket matching skips over.
//
// # The Event Socket client, and why it is ours
//
// dialerd speaks the Event Socket with its own client (client.go, about
// 330 lines, and frame.go, the framing), written from the protocol and the
// real FreeSWITCH 1.10.12 transcripts in testdata/fixtures, rather than
// with github.com/percipia/eslgo. v1.5.2, the last version the module
// proxy serves, has defects the gateway cannot call around: its auth and
// disconnect loops read a map without the lock that close() takes to
// delete from it (a data race whenever FreeSWITCH drops a young
// connection, whoever closes it); it loses the disconnect notice when the
// drop comes before its disconnect loop waits, or with any error but EOF;
// a command holds a lock while it waits for its reply, so a drop during a
// command goes unseen until the deadline; Dial has no bound; and every
// event listener runs in a goroutine of its own, so events arrive out of
// order. The fixes are upstream but unreleased, and a patched copy of its
// source is not this project's code to carry. Using only the correct parts
// of eslgo would have left us owning the connection, the read loop and
// close anyway, which is the whole client; what remains of it (command
// strings) is a line each. The protocol is small: frames of header lines,
// a blank line, a Content-Length body; replies in command order. So the
// client is ours, and eslgo stays only as a test dependency: an
// independent client that proves the fake FreeSWITCH (esltest) speaks the
// protocol to others than us.
//
// The client dials within Options.DialTimeout (and the caller's context),
// authenticates, then runs one reader goroutine and one dispatcher. A
// command takes the write turn, queues a waiter and writes (under a write
// deadline: the turn is never held while waiting for anything but the
// socket to accept bytes); the reader hands each reply to the oldest
// waiter. A caller that gives up leaves its waiter queued, so the late
// reply is dropped instead of reaching the command behind it; commands
// may therefore run concurrently on one connection. Events go to a queue
// the dispatcher empties in arrival order. When the connection ends, for
// whatever reason, the reader fails every waiter, the dispatcher delivers
// the events read before the end and then reports the end, exactly once.
// A command with no reply within Options.CommandTimeout ends the
// connection (the node has stalled); a heartbeat ("api status") catches a
// connection that is open but dead.
//
// Connections are closed the polite way, once: "exit"; FreeSWITCH answers
// and disconnects. If no disconnect follows within Options.CloseTimeout,
// the client closes the socket itself.
package esl
