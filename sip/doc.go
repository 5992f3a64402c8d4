// Package sip is dialerd's SIP trunk gateway: it places voicemessage and
// voicetts calls (the text rendered by Config.TTS, espeak-ng in the
// daemon, and played like a recording) and sends SMS as SIP MESSAGE
// straight to a provider, watches trunks with OPTIONS, registers the ones
// that want it, and hands inbound MESSAGE to
// the caller. It implements dialer.Gateway, dialer.Placer,
// dialer.AttemptChecker and dialer.Recoverer.
//
// # One user agent
//
// A Gateway is one sipgo user agent listening on one address, UDP and TCP
// on the same port. Every provider is reached through it with the
// transport its Route names; UDP requests leave from the listening socket,
// so replies and in-dialog requests (a callee's BYE) come back to the
// address in Contact. Per provider there is state, not a separate stack:
// trunk health, registration.
//
// # Calls
//
// Signalling uses sipgo's dialog API (DialogClientCache.WriteInvite,
// WaitAnswer, Ack, Bye). The gateway answers a digest challenge itself, so
// the retry's Via branch and CSeq are its own: a call sends at most two
// INVITEs, and a 401/407 to the second is AUTHENTICATION_FAILED, the
// route's fault. The ring timeout ends WaitAnswer, which makes sipgo send
// CANCEL; its cause tells our CANCEL (NO_ANSWER, also with the 487) from
// the caller's cancellation (ORIGINATOR_CANCEL). A 200 that crosses our
// CANCEL is acknowledged and ended with BYE, and reads NO_ANSWER.
//
// A trunk that sends no response at all to an INVITE within
// Config.ResponseTimeout (4 s), or a transport error (TCP refused), makes
// Deliver return dialer.RouteFault with GATEWAY_DOWN: the engine backs the
// route off and moves the attempt without spending a try. The INVITE
// transaction is dropped at once (nothing can be cancelled before a
// response); a 200 that still comes is a stray answer (below).
//
// Numbers: the Request-URI user is the E.164 number as is ("+" and digits)
// when the provider has no prefix, and prefix + digits without "+" when it
// has one (prefixes are digits only). Every value placed in a URI or header
// is validated first (phone, caller id number, trunk username, host, port,
// Call-ID) or escaped (the caller name is a quoted-string with control
// characters removed); headers are built as sipgo structs, never from
// formatted text. Invalid values make Deliver return a dialer validation
// error before anything is sent.
//
// Outcomes: final responses map by dialer.SIPCause, the one SIP mapping.
// Results carry, as the FreeSWITCH gateway's do, the DTMF digits, the
// cause, the answer time and billsec of an answered call, the delivery
// failure and the final SIP code. An answered call is Delivered only when
// the RTP sender sent the whole recording (ProgressDelivered then); cut by
// MaxDuration (ALLOTTED_TIMEOUT) or by the caller's context (the shutdown
// grace) it fails MESSAGE_CUT after our BYE, and Deliver still returns the
// outcome; the callee hanging up first is NOT_DELIVERED. Deliver returns an
// error only when the attempt never reached the callee: a content fault
// (CheckAttempt: the field to fix), a route fault (the trunk is silent or
// unreachable), a closed gateway.
//
// # Crash safety
//
// The Call-ID of a call is the attempt's CallUUID; the From tag and the
// Via branch of each INVITE are hashes of it (fromTag, inviteBranch), so a
// later process can rebuild the INVITE's CANCEL from the spool alone. At
// answer, ProgressAnswered carries the dialog as versioned JSON
// (savedDialog: Call-ID, tags, URIs, CSeq, remote target, route set,
// transport, peer). Calls do not outlive the process (the media is ours):
// Recover sends BYE in a saved dialog (answering a challenge with the
// trunk's credentials) or CANCEL for the rebuilt INVITEs, and returns
// dialer.ErrCallGone. A 200 OK for an INVITE no live call owns (a previous
// process's, or one we gave up on) is ACKed, ended with BYE once, and
// reported to Config.OnStrayAnswer with its call UUID, for the engine to
// record the answer so that callee is not dialled again.
//
// # SMS
//
// sendsms sends one MESSAGE (RFC 3428, text/plain;charset=UTF-8) per
// segment of Attempt.Media.Segments, or the whole Text when there are
// none, in order, stopping at the first refusal. A single message has the
// CallUUID as Call-ID, segment i of several "<CallUUID>-<i>". All 2xx is
// NORMAL_CLEARING; a refusal maps like an INVITE's. Inbound MESSAGE to our
// user agent goes to Config.OnMessage with the sender's user part, the
// Request-URI's user part (a trunk puts the DID there; the To user if it
// is empty) and the body; its answer decides 200, 404 or 500. Only
// text/plain UTF-8 is taken (else 415 or 400). Any host that reaches the
// listener can send one, so listen where only trunks can reach.
//
// # Trunks
//
// SetTrunks names the providers to watch. A trunk's state is unknown until
// its first probe: the first OPTIONS goes at once (a registering trunk's
// REGISTER is its probe). Any response to an OPTIONS, a REGISTER or an
// INVITE marks it up and restarts the count of missed pings, so a trunk
// that answers calls does not flap down; OptionsMisses pings in a row
// without any response mark it down. Health reads the state; each change
// is logged once at INFO, reported to Config.OnHealth, and going up to
// Config.OnRouteUp. Place refuses a trunk known down (a route fault, on the
// engine's loop, without I/O). Collector exports dialerd_sip_trunk_up.
//
// The UDP socket asks the kernel for a 4 MiB receive buffer
// (Config.ReadBuffer; the grant is logged, Linux caps it at
// net.core.rmem_max): sipgo's reader parses each datagram inline (about
// 6 µs) and hands it to a goroutine, and the buffer absorbs the reader
// being descheduled on a loaded host. A trunk with Register keeps a
// binding: REGISTER with digest auth, the same Call-ID and a growing CSeq,
// refreshed at three quarters of the granted expiry, retried with back-off
// on failure, and removed (Expires: 0) when the trunk is dropped or the
// gateway closes.
//
// # Media: why not diago
//
// diago (on sipgo) offers calls with media, WAV playback and a DTMF reader.
// We use sipgo alone and own the RTP. v0.31.0's RFC 4733 reader dropped
// digits whose first packet has duration 0, which SIPp emits; v0.42.1 no
// longer does (that check is commented out), so it was measured again
// (December 2026, on this project's two-core host):
//
//   - CPU: 1000 calls each playing one second of PCMU to a local sink, as
//     BenchmarkRTPSenders does (`go test ./sip -run '^$' -bench
//     RTPSenders`), cost 4.6–5.0 µs of process CPU per packet here and
//     6.2 µs through diago's media.RTPPacketWriter (the same load in a
//     scratch module, not committed). diago's writer blocks one goroutine
//     per call on its own 20-ms ticker, as our first sender did (6.3 µs):
//     one timer wake-up per packet, 150,000 a second at 3000 calls.
//   - Timing: its writer waits a tick after each packet, so one second of
//     audio took 1.48 s of wall time for 1000 calls; ours keeps each
//     stream on its own grid from its start (1.1 s, the loop's setup
//     included).
//   - DTMF: its reader still ignores an event whose first packets were
//     lost (an end packet without a start), which ours reports; both now
//     take SIPp's duration-0 start.
//   - Weight: it brings pion/rtp, SRTP and DTLS (and opus behind a build
//     tag) for one G.711 stream, and a pre-1.0 API with process-wide media
//     settings; its initial RTP timestamp is not random (RFC 3550 says it
//     should be).
//
// So the hand-written path stays: one shared sender (rtpSender) paces
// every call's packets, one reader per call takes its telephone events.
//
// The stream: 160 samples per packet, sequence and timestamp from random
// starting points growing by 1 and 160, a random SSRC, the marker bit on
// the first packet, PCMU or PCMA as the answer prefers. DTMF: see dtmfDetector;
// events are accepted on the payload type the answer maps to
// telephone-event and on the one we offered (101), and only from the
// answer's media address.
//
// # Opt-out key
//
// When Media.OptOutDigit is set and the callee presses it (RFC 4733, as
// any digit), the message stops at once (it must not run on, or end as
// delivered, while the opt-out is written), Attempt.OptOut is called and
// waited for (at most 5 s). Only when it returned nil is the number
// durably suppressed: then the confirmation (Media.OptOutConfirmPath), if
// any, plays to its end on the same stream, we hang up, and the outcome is
// OptedOut with Failure OPTED_OUT (final) and the result optout/digit. On
// an error (or no Attempt.OptOut) nothing is confirmed: we hang up with
// MESSAGE_CUT and the result optout/error. Other digits are reported as
// usual.
//
// # Answering machines
//
// Media.OnMachine turns on detection over the callee's audio (only then,
// and only until the call has the verdict it needs, is received audio
// decoded: a PCMU/PCMA table look-up per sample and 33 Goertzel filters
// per 20 ms frame, no allocation per packet). The detector works in frames of
// 160 samples:
//
//   - a frame is silence below an RMS of 100 (about -50 dBFS);
//   - a frame is a tone when two adjacent 50 Hz Goertzel bins between
//     400 and 2000 Hz hold at least 60% of its energy (a pure tone on a bin
//     holds 100%, half-way between two 81%; speech and noise spread out);
//   - a beep is 12 or more tone frames in a row on the same frequency
//     (±50 Hz): a steady tone of 250 ms fills at least 12 whatever its
//     alignment to the frames, one of 200 ms at most 11. It is reported
//     when the tone ends, so the message starts after it;
//   - the human heuristic, the usual one of AMD: from the first sound, a
//     greeting (first to last sound, gaps included) of at most 1.5 s
//     followed by 800 ms of silence is a person ("Hello?", then waiting for
//     an answer); a greeting longer than 1.5 s is a machine; a beep before
//     any verdict is a machine; no sound in 2.5 s, or no verdict in 5 s of
//     audio, is unknown. A callee that sends no audio is unknown after 6 s
//     of wall-clock time.
//
// The policies: play plays at once and records the verdict (unknown when
// the message ended first); hang_up waits for the verdict, hangs up on a
// machine (Failure MACHINE_HANGUP: not a delivery, retried as try_allowed
// permits) and plays otherwise; play_after_beep waits for the verdict,
// plays at once for a person or unknown, and for a machine waits for the
// end of its beep (at most 20 s after the greeting was recognised, then
// plays anyway). The verdict is Outcome.Machine and the result
// amd/machine (human, machine or unknown).
//
// G.711 encoding and the decoding of the recording come from dialer/media;
// a recording that is not already 8 kHz mono is converted, not refused.
package sip
