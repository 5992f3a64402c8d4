package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/dialerd/dialerd/dialer"
)

// errRingTimeout is the cause of the ring context when Attempt.RingTimeout
// passes, to tell our own CANCEL from a caller's cancellation.
var errRingTimeout = errors.New("sip: ring timeout")

// ErrNoResponse is the error of a route fault raised when the trunk did not
// answer an INVITE at all within Config.ResponseTimeout.
var ErrNoResponse = errors.New("sip: no response from the trunk")

// causeTrunkDown is the response of an attempt the trunk never answered
// (no response, transport error): FreeSWITCH's name for a gateway that is
// down. It is a route fault: no try is spent.
const causeTrunkDown = "GATEWAY_DOWN"

// outbound is what every request of an attempt is addressed with, built
// from validated values only.
type outbound struct {
	tp        *sipTransport
	recipient sip.Uri
	from      sip.FromHeader
	to        sip.ToHeader
	callID    sip.CallIDHeader
}

// prepare validates an attempt's addressing and builds the Request-URI and
// the From, To and Call-ID headers from it. Nothing here touches the
// network. The From tag is derived from the call UUID (see fromTag).
func (g *Gateway) prepare(a dialer.Attempt) (outbound, error) {
	if err := checkRoute(a.Provider); err != nil {
		return outbound{}, err
	}
	tp, err := g.transportFor(a.Provider)
	if err != nil {
		return outbound{}, dialer.ContentFault("transport", err)
	}
	user, err := destinationUser(a.Phone, a.Provider.Prefix)
	if err != nil {
		return outbound{}, err
	}
	caller, err := callerUser(a.CallerIDNumber)
	if err != nil {
		return outbound{}, err
	}
	if caller == "" {
		caller = a.Provider.Username
	}
	if caller == "" {
		caller = "anonymous"
	}
	recipient, err := trunkURI(a.Provider, tp, user)
	if err != nil {
		return outbound{}, dialer.ContentFault("host", err)
	}
	if !validCallID(a.CallUUID) {
		return outbound{}, dialer.ContentFault("call_uuid", dialer.InvalidField("call_uuid", "must be a UUID"))
	}
	// From and To carry the trunk's domain, as a trunk expects from a
	// customer it authenticates; they never carry a port or parameters.
	from := sip.FromHeader{
		DisplayName: displayName(a.CallerIDName),
		Address:     sip.Uri{Scheme: "sip", User: caller, Host: a.Provider.Host},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", fromTag(a.CallUUID))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: a.Provider.Host}}
	return outbound{tp: tp, recipient: recipient, from: from, to: to, callID: sip.CallIDHeader(a.CallUUID)}, nil
}

// request starts a request of an attempt with its addressing headers.
func (g *Gateway) request(method sip.RequestMethod, ob outbound) *sip.Request {
	req := sip.NewRequest(method, ob.recipient)
	req.SetTransport(strings.ToUpper(ob.tp.network))
	from, to, callID := ob.from, ob.to, ob.callID
	from.Params = from.Params.Clone()
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("User-Agent", g.cfg.UserAgent))
	return req
}

// inviteRequest builds the n-th INVITE of a call (1, or 2 answering a
// challenge) with the Via branch and CSeq derived from the call UUID, so a
// later process can rebuild its CANCEL (see rebuiltInvite).
func (g *Gateway) inviteRequest(ob outbound, n int, body []byte) *sip.Request {
	req := g.request(sip.INVITE, ob)
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(ob.tp.network),
		Host:            g.advertise.String(),
		Port:            g.port,
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", inviteBranch(string(ob.callID), n))
	req.PrependHeader(via)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: uint32(inviteCSeq + n - 1), MethodName: sip.INVITE})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.HeaderClone(&ob.tp.contact))
	if body != nil {
		req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"))
		ct := sip.ContentTypeHeader("application/sdp")
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	return req
}

// call places a voicemessage or voicetts call and plays the recording (or
// the text's rendering) once answered.
func (g *Gateway) call(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	ob, err := g.prepare(a)
	if err != nil {
		return dialer.Outcome{}, err
	}
	recording, field := a.Media.RecordingPath, "recording_id"
	release := func() {}
	if a.Program == dialer.ProgramVoiceTTS {
		// Rendered before the INVITE (on the attempt's goroutine, never the
		// engine's loop), so the callee never waits for it; a text the
		// engine cannot speak is the content's fault, and says why.
		if recording, release, err = g.speak(ctx, a.Media); err != nil {
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			return dialer.Outcome{}, &dialer.FaultError{Fault: dialer.FaultContent, Cause: dialer.CauseMediaError, Field: "text", Err: err}
		}
		field = "text"
	}
	samples, err := g.recordings.load(recording)
	release() // decoded: the cache may evict the rendering now
	if err != nil {
		return dialer.Outcome{}, dialer.ContentFault(field, err)
	}
	var confirm []int16
	if a.Media.OptOutConfirmPath != "" {
		if confirm, err = g.recordings.load(a.Media.OptOutConfirmPath); err != nil {
			return dialer.Outcome{}, dialer.ContentFault("opt_out_recording_id", err)
		}
	}
	media, err := openMedia(g.mediaBind, g.rtp)
	if err != nil {
		return dialer.Outcome{}, err
	}
	defer media.close()
	untrack, err := g.track(a.CallUUID)
	if err != nil {
		return dialer.Outcome{}, err
	}
	answered := false
	defer func() { untrack(answered) }()

	log := g.log.With("call_uuid", a.CallUUID, "provider_id", a.Provider.ProviderID)
	offer := sdpOffer(g.advertise, media.port(), rand.Uint64()>>1)
	out := dialer.Outcome{Start: time.Now()}
	var challenge *sip.Response
	for n := 1; ; n++ {
		req := g.inviteRequest(ob, n, offer)
		if challenge != nil {
			if err := authorize(req, challenge, a.Provider); err != nil {
				return dialer.Outcome{}, dialer.RouteFault(dialer.CauseAuthFailed, err)
			}
		}
		// The context bounds only the connection (a TCP connect to a
		// black hole would otherwise wait minutes), not the transaction.
		dialCtx, cancelDial := context.WithTimeout(ctx, g.cfg.ResponseTimeout)
		sess, err := ob.tp.dialogs.WriteInvite(dialCtx, req)
		cancelDial()
		if err != nil {
			if ctx.Err() != nil {
				return dialer.Outcome{}, ctx.Err()
			}
			return dialer.Outcome{}, dialer.RouteFault(causeTrunkDown, fmt.Errorf("%w: %w", ErrTransport, err))
		}
		res, err := g.waitAnswer(ctx, a, sess, progress)
		if res.challenged != nil && n < maxInvites && a.Provider.Password != "" {
			sess.Close()
			challenge = res.challenged
			continue
		}
		if err != nil {
			sess.Close()
			return dialer.Outcome{}, err
		}
		// A 2xx that crossed our CANCEL was answered too: its
		// retransmissions are not strays.
		answered = res.answered || (res.code >= 200 && res.code < 300)
		if res.answered {
			out = g.connected(ctx, a, sess, media, callAudio{message: samples, confirm: confirm}, progress, out, log)
		} else {
			out = res.out(out)
			out.End = time.Now()
		}
		sess.Close()
		addResults(&out)
		return out, nil
	}
}

// waitResult is how waiting for the answer to one INVITE ended, when it
// did not end in an error.
type waitResult struct {
	answered   bool
	challenged *sip.Response // a 401/407 with a challenge
	code       int
	cause      string
}

func (r waitResult) out(o dialer.Outcome) dialer.Outcome {
	o.SIPCode, o.Cause = r.code, r.cause
	return o
}

// waitAnswer waits for the final answer to an INVITE. The ring timeout
// sends CANCEL (NO_ANSWER); the caller's cancellation too (ORIGINATOR_CANCEL).
// A trunk that sends nothing at all within Config.ResponseTimeout (or
// before the ring timeout) is a route fault: the INVITE transaction is
// dropped at once, since nothing can be cancelled before a response.
func (g *Gateway) waitAnswer(ctx context.Context, a dialer.Attempt, sess *sipgo.DialogClientSession, progress func(dialer.Progress)) (waitResult, error) {
	ringTimeout := a.RingTimeout
	if ringTimeout <= 0 {
		ringTimeout = DefaultRingTimeout
	}
	ringCtx, cancelRing := context.WithTimeoutCause(ctx, ringTimeout, errRingTimeout)
	defer cancelRing()
	// waitCtx is not a child of ringCtx: whether its end sends CANCEL
	// (something was heard) or drops the transaction (nothing was) is
	// decided here, not by sipgo.
	waitCtx, stopWait := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWait(nil)
	var heard atomic.Bool
	silence := time.AfterFunc(g.cfg.ResponseTimeout, func() {
		if !heard.Load() {
			stopWait(sipgo.WaitAnswerForceCancelErr)
		}
	})
	defer silence.Stop()
	stopRing := context.AfterFunc(ringCtx, func() {
		if heard.Load() {
			stopWait(context.Cause(ringCtx))
		} else {
			stopWait(sipgo.WaitAnswerForceCancelErr)
		}
	})
	defer stopRing()

	ringing := false
	err := sess.WaitAnswer(waitCtx, sipgo.AnswerOptions{
		OnResponse: func(res *sip.Response) error {
			if !heard.Swap(true) {
				g.noteResponse(a.Provider.ProviderID)
			}
			if !ringing && (res.StatusCode == 180 || res.StatusCode == 183) {
				ringing = true
				progress(dialer.Progress{Kind: dialer.ProgressRinging, At: time.Now()})
			}
			return nil
		},
	})
	if err == nil {
		return waitResult{answered: true}, nil
	}
	res := sess.InviteResponse
	var rejected *sipgo.ErrDialogResponse
	if errors.As(err, &rejected) {
		code := rejected.Res.StatusCode
		if (code == 401 && rejected.Res.GetHeader("WWW-Authenticate") != nil) ||
			(code == 407 && rejected.Res.GetHeader("Proxy-Authenticate") != nil) {
			return waitResult{challenged: rejected.Res, code: code, cause: dialer.SIPCause(code)}, nil
		}
		return waitResult{code: code, cause: dialer.SIPCause(code)}, nil
	}
	if res == nil || !heard.Load() {
		// Nothing came back. A cancelled caller (shutdown) gets its
		// context's error; anything else is the trunk's silence.
		if ctx.Err() != nil {
			return waitResult{}, ctx.Err()
		}
		switch {
		case errors.Is(err, sip.ErrTransactionTransport):
			return waitResult{}, dialer.RouteFault(causeTrunkDown, fmt.Errorf("%w: %w", ErrTransport, err))
		case errors.Is(context.Cause(waitCtx), sipgo.WaitAnswerForceCancelErr), errors.Is(err, sip.ErrTransactionTimeout):
			return waitResult{}, dialer.RouteFault(causeTrunkDown, fmt.Errorf("%w within %v", ErrNoResponse, min(g.cfg.ResponseTimeout, ringTimeout)))
		}
		return waitResult{}, dialer.RouteFault(causeTrunkDown, err)
	}
	cancelCause := CauseOriginatorCancel
	if errors.Is(context.Cause(waitCtx), errRingTimeout) {
		cancelCause = CauseNoAnswer
	}
	switch {
	case context.Cause(waitCtx) == nil:
		// sipgo gave up on the transaction (too many provisional
		// responses, a broken response): make sure the far end stops too.
		g.log.Warn("invite failed", "call_uuid", a.CallUUID, "err", err)
		if res.IsProvisional() {
			g.cancelInvite(ctx, sess)
		}
		return waitResult{cause: CauseNormalTemporaryFailure}, nil
	case res.IsSuccess():
		// The callee answered as our CANCEL crossed: the dialog exists and
		// must be acknowledged and ended. Nobody heard the message, and
		// the callee was not reached in time: it reads as our cancel.
		g.endCrossedAnswer(ctx, sess)
		return waitResult{code: res.StatusCode, cause: cancelCause}, nil
	case !res.IsProvisional() && res.StatusCode != 487:
		return waitResult{code: res.StatusCode, cause: dialer.SIPCause(res.StatusCode)}, nil
	case res.StatusCode == 487:
		return waitResult{code: 487, cause: cancelCause}, nil
	}
	return waitResult{cause: cancelCause}, nil
}

// authorize answers a digest challenge on req.
func authorize(req *sip.Request, challenge *sip.Response, route dialer.Route) error {
	name, header := "Authorization", challenge.GetHeader("WWW-Authenticate")
	if challenge.StatusCode == 407 {
		name, header = "Proxy-Authorization", challenge.GetHeader("Proxy-Authenticate")
	}
	if header == nil {
		return errors.New("sip: challenge without a header")
	}
	chal, err := digest.ParseChallenge(header.Value())
	if err != nil {
		return fmt.Errorf("sip: digest challenge: %w", err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{
		Method:   req.Method.String(),
		URI:      req.Recipient.Addr(),
		Username: route.Username,
		Password: route.Password,
	})
	if err != nil {
		return fmt.Errorf("sip: digest: %w", err)
	}
	req.RemoveHeader(name)
	req.AppendHeader(sip.NewHeader(name, cred.String()))
	return nil
}

// connected runs an answered call: ACK, media, and the hangup by whichever
// side ends it first. The message is delivered only when the RTP sender
// sent the whole recording: a call we cut (maximum duration, shutdown) is
// MESSAGE_CUT, one the callee ended first NOT_DELIVERED.
func (g *Gateway) connected(ctx context.Context, a dialer.Attempt, sess *sipgo.DialogClientSession, media *mediaSession,
	audio callAudio, progress func(dialer.Progress), out dialer.Outcome, log *slog.Logger) dialer.Outcome {
	out.Connect = time.Now()
	out.SIPCode = sess.InviteResponse.StatusCode
	var dialog []byte
	if d, err := dialogOf(sess.InviteRequest, sess.InviteResponse); err == nil {
		dialog = d.marshal()
	} else {
		log.Warn("answer without a dialog to save", "err", err)
	}
	progress(dialer.Progress{Kind: dialer.ProgressAnswered, At: out.Connect, Dialog: dialog})
	if err := sess.Ack(ctx); err != nil {
		log.Warn("ack", "err", err)
	}
	finish := func(cause, failure string, byUs bool) dialer.Outcome {
		if byUs {
			g.bye(ctx, sess, log)
		}
		out.Cause, out.Failure = cause, failure
		out.Delivered = failure == ""
		out.End = time.Now()
		out.Billsec = int(out.End.Sub(out.Connect) / time.Second)
		return out
	}

	answer, err := parseSDPAnswer(sess.InviteResponse.Body())
	if err != nil {
		log.Warn("no usable media in answer", "err", err)
		return finish(CauseIncompatibleDestination, dialer.CauseNotDelivered, true)
	}
	maxDuration := a.MaxDuration
	if maxDuration <= 0 {
		maxDuration = DefaultMaxDuration
	}
	limit := time.NewTimer(maxDuration)
	defer limit.Stop()

	p := &playing{g: g, ctx: ctx, a: a, sess: sess, media: media, answer: answer, audio: audio, progress: progress,
		out: &out, log: log, limit: limit.C}
	cause, failure, byUs := p.run()
	// Digits already read count; then the socket closes. An opt-out key
	// among them (pressed as the call ended) still opts out.
	for _, d := range media.stop() {
		p.addDigit(d)
		if d == a.Media.OptOutDigit && p.lateOptOut(d) && failure != "" {
			failure = dialer.CauseOptedOut
		}
	}
	// The sender is the witness: whatever ended the call, a recording it
	// sent to the end was delivered.
	if media.complete() {
		failure = ""
		progress(dialer.Progress{Kind: dialer.ProgressDelivered, At: media.completedAt()})
	}
	return finish(cause, failure, byUs)
}

// addResults appends what every call reports, as the FreeSWITCH gateway
// does: the cause, billsec and answer time of an answered call, the
// delivery failure, the final SIP code.
func addResults(o *dialer.Outcome) {
	o.Results = append(o.Results, dialer.Result{Type: "hangup", Name: "cause", Data: o.Cause})
	if !o.Connect.IsZero() {
		o.Results = append(o.Results,
			dialer.Result{Type: "hangup", Name: "answer_time", Data: o.Connect.UTC().Format(time.RFC3339Nano)},
			dialer.Result{Type: "hangup", Name: "billsec", Data: strconv.Itoa(o.Billsec)})
	}
	if o.Failure != "" {
		o.Results = append(o.Results, dialer.Result{Type: "hangup", Name: "failure", Data: o.Failure})
	}
	if o.SIPCode != 0 {
		o.Results = append(o.Results, dialer.Result{Type: "sip", Name: "term_status", Data: strconv.Itoa(o.SIPCode)})
	}
}

// endCrossedAnswer acknowledges and immediately ends a call whose 200 OK
// crossed our CANCEL.
func (g *Gateway) endCrossedAnswer(ctx context.Context, sess *sipgo.DialogClientSession) {
	if err := sess.Ack(ctx); err != nil {
		g.log.Warn("ack", "err", err)
	}
	g.bye(ctx, sess, g.log)
}

// bye ends an established dialog; it runs even when ctx is done, bounded
// by byeTimeout.
func (g *Gateway) bye(ctx context.Context, sess *sipgo.DialogClientSession, log *slog.Logger) {
	byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
	defer cancel()
	if err := sess.Bye(byeCtx); err != nil {
		log.Warn("bye", "err", err)
	}
}

// cancelInvite sends CANCEL for an INVITE sipgo stopped waiting on.
func (g *Gateway) cancelInvite(ctx context.Context, sess *sipgo.DialogClientSession) {
	inv := sess.InviteRequest
	tp := g.udp
	if strings.EqualFold(inv.Transport(), "tcp") {
		tp = g.tcp
	}
	cctx, stop := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
	defer stop()
	if _, err := g.sendCancel(cctx, tp, inv); err != nil {
		g.log.Debug("cancel", "err", err)
	}
}

// sendCancel sends the CANCEL of an INVITE (RFC 3261 9.1: its Request-URI,
// top Via, From, To, Call-ID and CSeq number) and returns its final status.
func (g *Gateway) sendCancel(ctx context.Context, tp *sipTransport, inv *sip.Request) (int, error) {
	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(sip.HeaderClone(inv.Via()))
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&maxFwd)
	cancel.AppendHeader(sip.NewHeader("User-Agent", g.cfg.UserAgent))
	cancel.SetTransport(inv.Transport())
	cancel.SetBody(nil)
	// The request is complete; the no-op option keeps sipgo from adding a
	// second Via.
	res, err := tp.client.Do(ctx, cancel, g.fromListener)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}
