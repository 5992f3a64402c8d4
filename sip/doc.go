// Package sip is dialerd's SIP trunk gateway: it places voicemessage calls
// and sends SMS as SIP MESSAGE straight to a provider, watches trunks with
// OPTIONS, registers the ones that want it, and hands inbound MESSAGE to
// the caller. It implements dialer.Gateway and dialer.CallChecker.
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
// WaitAnswer with digest credentials, Ack, Bye). The ring timeout is a
// context deadline on WaitAnswer, which makes sipgo send CANCEL; the
// context's cause tells our CANCEL (NO_ANSWER) from the caller's
// cancellation (ORIGINATOR_CANCEL). A 200 that crosses our CANCEL is
// acknowledged and ended with BYE.
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
// The Call-ID of a call is the attempt's CallUUID, and the gateway keeps a
// table of live calls by that UUID for CallExists. Calls do not outlive
// the process (we are the media endpoint), so after a restart every UUID is
// unknown.
//
// Outcomes: final responses map to FreeSWITCH's Q.850 names (see
// causeForStatus; 408 and 480 read as NO_ANSWER). An answered call ends
// NORMAL_CLEARING when the recording has played or the callee hangs up,
// ALLOTTED_TIMEOUT at MaxDuration. No response at all within Timer B is
// RECOVERY_ON_TIMER_EXPIRE with SIPCode 408 (RFC 3261 8.1.3.1). Deliver
// returns an error only when the attempt never reached the network: bad
// input, an unreadable recording, a transport failure before any response
// (ErrTransport), a closed gateway.
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
// SetTrunks names the providers to watch. Each is pinged with OPTIONS every
// OptionsInterval; OptionsMisses pings in a row without an answer (no
// response, 408 or 503) mark it down, and the next answer marks it up
// again. Any other answer, even 405, shows a live trunk. Health reads the
// state; Config.OnHealth hears every change. A trunk with Register keeps a
// binding: REGISTER with digest auth, the same Call-ID and a growing CSeq,
// refreshed at three quarters of the granted expiry, retried with back-off
// on failure, and removed (Expires: 0) when the trunk is dropped or the
// gateway closes.
//
// # Media: why not diago
//
// diago (on sipgo) offers calls with media, WAV playback and a DTMF reader.
// We use sipgo alone and own the RTP, because: diago's RFC 4733 reader
// drops digits whose first packet has duration 0, which SIPp and other
// senders emit, so the reader would be ours anyway and it needs the raw
// packets; the rest we need (one G.711 stream of 20 ms packets from a
// WAV, an SDP offer and the parse of its answer) is a few hundred lines,
// while diago would add pion/rtp, SRTP and DTLS and a pre-1.0 API with
// process-wide media settings.
//
// The stream: 160 samples per packet, sequence and timestamp from random
// starting points growing by 1 and 160, a random SSRC, the marker bit on
// the first packet, PCMU or PCMA as the answer prefers. DTMF: see dtmfDetector;
// events are accepted on the payload type the answer maps to
// telephone-event and on the one we offered (101), and only from the
// answer's media address.
//
// G.711 encoding and the decoding of the recording come from dialer/media;
// a recording that is not already 8 kHz mono is converted, not refused.
package sip
