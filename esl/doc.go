// Package esl is dialerd's FreeSWITCH gateway: it delivers voice and fax
// attempts (voicemessage, voicetts, sendfax) through FreeSWITCH nodes over
// the inbound Event Socket, with its own client (client.go, frame.go).
//
// # Nodes and connections
//
// A node is an enabled FreeSWITCH PBX profile (ApplyNode, RemoveNode; the
// PBX profiles API and start-up drive them). Each has exactly one
// persistent connection, never one per call: authenticated, subscribed to
// an explicit list of events (BACKGROUND_JOB, CHANNEL_CREATE,
// CHANNEL_PROGRESS, CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER, CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE, DTMF; never "all", never "log"), watched by a
// heartbeat ("api status") and reconnected
// after a failure with capped exponential back-off and jitter. While a
// node is down, Deliver refuses its attempts at once (ErrNodeDown) and
// NodeHealth, which /readyz shows as "esl:<id>", says why.
//
// # An attempt
//
// Deliver validates the attempt and builds the originate from validated
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
// # Lost connections and recovery
//
// When a node's connection drops mid-call the call keeps going on
// FreeSWITCH, and its events of that moment are lost. The attempt waits
// up to Options.ReconnectGrace for the connection to come back, asks
// uuid_exists, and either keeps following the call (its events flow on the
// new connection, which routes by UUID like the old) or ends it as
// CauseConnectionLost with what it knew (an answered call stays answered).
// The same happens when the originate was written but its reply was lost.
// After a restart, CallExists answers recovery, and Reattach follows a
// call that is still live until it ends.
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
