// Package esl is dialerd's FreeSWITCH gateway: it delivers voice and fax
// attempts (voicemessage, voicetts, sendfax) through FreeSWITCH nodes over
// the inbound Event Socket, with github.com/percipia/eslgo v1.5.2.
//
// # Nodes and connections
//
// A node is an enabled FreeSWITCH PBX profile (ApplyNode, RemoveNode; the
// PBX profiles API and start-up drive them). Each has exactly one
// persistent connection, never one per call: authenticated, subscribed to
// an explicit list of events (BACKGROUND_JOB, CHANNEL_CREATE,
// CHANNEL_PROGRESS, CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER, CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE, DTMF; never "all", never "log", whose frames stop
// eslgo's reader), watched by a heartbeat ("api status") and reconnected
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
// eslgo's OriginateCall (drops origination_uuid) and
// BackgroundOriginateCall (sends "bgapi bgapi") are not used. The
// application is playback of the recording (a path for a node on this
// host, the URL dialerd serves otherwise), speak with the text in the
// channel variable dialerd_tts (the command line is split on spaces), or
// txfax of the TIFF (local nodes only).
//
// # Events, in any order
//
// eslgo calls every listener in a new goroutine, so events arrive out of
// order: CHANNEL_ANSWER before BACKGROUND_JOB, a DTMF before the answer.
// The node routes each event to its call by Unique-ID or Job-UUID; the call
// sorts what it has by Event-Sequence on every wake-up and decides from the
// whole picture, never from the order of arrival. CHANNEL_HANGUP_COMPLETE
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
// # eslgo, and closing connections
//
// The client is eslgo v1.5.2, as a trimmed copy in internal/eslgo with
// four small fixes (see its package comment). Upstream, a connection that
// FreeSWITCH drops soon after it was made is a data race inside eslgo
// (its auth and disconnect loops read a map without the lock that close()
// takes to delete from it), whoever closes it: the race detector reports
// it in the tests of dropped connections, and no way of calling upstream
// avoids it. Upstream also loses its disconnect notice when the drop
// comes before its disconnect loop waits, or with any error but EOF, and
// holds a lock while a command waits for its reply, so a drop during a
// command went unseen until the command's deadline.
//
// Connections are closed the polite way: "exit" sent through SendCommand;
// FreeSWITCH answers and disconnects, and eslgo's disconnect loop closes
// its side. If no disconnect follows within Options.CloseTimeout, the
// gateway cancels the context eslgo was dialled with and closes the
// socket itself.
//
// eslgo matches replies to commands first in, first out, with its write
// lock released before it reads the reply: two concurrent SendCommands can
// receive each other's replies, and a command abandoned on a timeout leaves
// its reply for the next one. Each connection therefore sends one command
// at a time under its own lock, commands carry their own timeout rather
// than a caller's context, and a command that fails ends the connection.
// A heartbeat ("api status") catches a connection that is open but dead.
package esl
