package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

// errRingTimeout is the cause of the ring context when Attempt.RingTimeout
// passes, to tell our own CANCEL from a caller's cancellation.
var errRingTimeout = errors.New("sip: ring timeout")

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
// network.
func (g *Gateway) prepare(a dialer.Attempt) (outbound, error) {
	tp, err := g.transportFor(a.Provider)
	if err != nil {
		return outbound{}, err
	}
	user, err := destinationUser(a.Phone, a.Provider.Prefix)
	if err != nil {
		return outbound{}, err
	}
	caller, err := callerUser(a.CallerIDNumber)
	if err != nil {
		return outbound{}, err
	}
	trunkUser, err := sipUser("provider.username", a.Provider.Username)
	if err != nil {
		return outbound{}, err
	}
	if caller == "" {
		caller = trunkUser
	}
	if caller == "" {
		caller = "anonymous"
	}
	recipient, err := trunkURI(a.Provider, tp, user)
	if err != nil {
		return outbound{}, err
	}
	if !validCallID(a.CallUUID) {
		return outbound{}, dialer.InvalidField("call_uuid", "must be a UUID")
	}
	// From and To carry the trunk's domain, as a trunk expects from a
	// customer it authenticates; they never carry a port or parameters.
	from := sip.FromHeader{
		DisplayName: displayName(a.CallerIDName),
		Address:     sip.Uri{Scheme: "sip", User: caller, Host: a.Provider.Host},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: a.Provider.Host}}
	return outbound{tp: tp, recipient: recipient, from: from, to: to, callID: sip.CallIDHeader(a.CallUUID)}, nil
}

// request starts a request of an attempt with its addressing headers.
func (g *Gateway) request(method sip.RequestMethod, ob outbound) *sip.Request {
	req := sip.NewRequest(method, ob.recipient)
	req.SetTransport(strings.ToUpper(ob.tp.network))
	from, to, callID := ob.from, ob.to, ob.callID
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("User-Agent", g.cfg.UserAgent))
	return req
}

// call places a voicemessage call and plays the recording once answered.
func (g *Gateway) call(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	ob, err := g.prepare(a)
	if err != nil {
		return dialer.Outcome{}, err
	}
	samples, err := g.recordings.load(a.Media.RecordingPath)
	if err != nil {
		return dialer.Outcome{}, err
	}
	media, err := openMedia(g.mediaBind)
	if err != nil {
		return dialer.Outcome{}, err
	}
	defer media.close()
	untrack, err := g.track(a.CallUUID)
	if err != nil {
		return dialer.Outcome{}, err
	}
	defer untrack()

	req := g.request(sip.INVITE, ob)
	req.AppendHeader(sip.HeaderClone(&ob.tp.contact))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"))
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(sdpOffer(g.advertise, media.port(), rand.Uint64()>>1))

	log := g.log.With("call_uuid", a.CallUUID, "provider_id", a.Provider.ProviderID)
	out := dialer.Outcome{Start: time.Now()}
	sess, err := ob.tp.dialogs.WriteInvite(ctx, req)
	if err != nil {
		return dialer.Outcome{}, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer sess.Close()

	ringTimeout := a.RingTimeout
	if ringTimeout <= 0 {
		ringTimeout = DefaultRingTimeout
	}
	ringCtx, cancelRing := context.WithTimeoutCause(ctx, ringTimeout, errRingTimeout)
	ringing := false
	err = sess.WaitAnswer(ringCtx, sipgo.AnswerOptions{
		Username: a.Provider.Username,
		Password: a.Provider.Password,
		OnResponse: func(res *sip.Response) error {
			if !ringing && (res.StatusCode == 180 || res.StatusCode == 183) {
				ringing = true
				progress(dialer.Progress{Kind: dialer.ProgressRinging, At: time.Now()})
			}
			return nil
		},
	})
	ringCause := context.Cause(ringCtx)
	cancelRing()

	if err == nil {
		return g.connected(ctx, a, sess, media, samples, progress, out, log), nil
	}
	res := sess.InviteResponse
	var rejected *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &rejected):
		out.SIPCode = rejected.Res.StatusCode
		out.Cause = causeForStatus(out.SIPCode)

	case ringCause != nil:
		// We sent CANCEL (or could not, having heard nothing yet).
		cancelCause := CauseOriginatorCancel
		if errors.Is(ringCause, errRingTimeout) {
			cancelCause = CauseNoAnswer
		}
		switch {
		case res != nil && res.IsSuccess():
			// The callee answered as our CANCEL crossed: the dialog
			// exists and must be acknowledged and ended.
			out = g.endCrossedAnswer(ctx, sess, out, log)
			out.Cause = cancelCause
			return out, nil
		case res != nil && !res.IsProvisional() && res.StatusCode != 487:
			out.SIPCode = res.StatusCode
			out.Cause = causeForStatus(out.SIPCode)
		default:
			out.Cause = cancelCause
			if res != nil && res.StatusCode == 487 {
				out.SIPCode = 487
			}
		}
		if res == nil && errors.Is(err, sip.ErrTransactionTimeout) {
			out.Cause, out.SIPCode = CauseRecoveryOnTimerExpire, 408
		}

	case res == nil && errors.Is(err, sip.ErrTransactionTransport):
		return dialer.Outcome{}, fmt.Errorf("%w: %w", ErrTransport, err)

	case res == nil && errors.Is(err, sip.ErrTransactionTimeout):
		// RFC 3261 8.1.3.1: no response at all counts as a 408, but it
		// says the trunk is silent, not that the callee did not answer.
		out.Cause, out.SIPCode = CauseRecoveryOnTimerExpire, 408

	default:
		// sipgo gave up on the transaction (too many provisional
		// responses, a broken response): make sure the far end stops too.
		log.Warn("invite failed", "err", err)
		if res != nil && res.IsProvisional() {
			g.cancelInvite(ctx, ob.tp, sess)
		}
		out.Cause = CauseNormalTemporaryFailure
	}
	out.End = time.Now()
	return out, nil
}

// connected runs an answered call: ACK, media, and the hangup by whichever
// side ends it first.
func (g *Gateway) connected(ctx context.Context, a dialer.Attempt, sess *sipgo.DialogClientSession, media *mediaSession,
	samples []int16, progress func(dialer.Progress), out dialer.Outcome, log *slog.Logger) dialer.Outcome {
	out.Connect = time.Now()
	out.SIPCode = sess.InviteResponse.StatusCode
	progress(dialer.Progress{Kind: dialer.ProgressAnswered, At: out.Connect})
	if err := sess.Ack(ctx); err != nil {
		log.Warn("ack", "err", err)
	}
	finish := func(cause string, byUs bool) dialer.Outcome {
		if byUs {
			g.bye(ctx, sess, log)
		}
		out.Cause = cause
		out.End = time.Now()
		out.Billsec = int(out.End.Sub(out.Connect) / time.Second)
		out.Delivered = true // interim: delivery is not read from the RTP sender yet
		return out
	}

	answer, err := parseSDPAnswer(sess.InviteResponse.Body())
	if err != nil {
		log.Warn("no usable media in answer", "err", err)
		return finish(CauseIncompatibleDestination, true)
	}
	maxDuration := a.MaxDuration
	if maxDuration <= 0 {
		maxDuration = DefaultMaxDuration
	}
	limit := time.NewTimer(maxDuration)
	defer limit.Stop()

	played, digits := media.start(answer, samples)
	addDigit := func(d string) {
		out.Results = append(out.Results, dialer.Result{Type: "dtmf", Name: "digit", Data: d})
		progress(dialer.Progress{Kind: dialer.ProgressDTMF, At: time.Now(), Digit: d})
	}
	cause, byUs := CauseNormalClearing, true
loop:
	for {
		select {
		case d := <-digits:
			addDigit(d)
		case <-played:
			break loop
		case <-limit.C:
			cause = CauseAllottedTimeout
			break loop
		case <-sess.Context().Done():
			byUs = false // the far end sent BYE
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	// Digits already read count; then the socket closes.
	for _, d := range media.stop() {
		addDigit(d)
	}
	return finish(cause, byUs)
}

// endCrossedAnswer acknowledges and immediately ends a call whose 200 OK
// crossed our CANCEL.
func (g *Gateway) endCrossedAnswer(ctx context.Context, sess *sipgo.DialogClientSession, out dialer.Outcome, log *slog.Logger) dialer.Outcome {
	out.SIPCode = sess.InviteResponse.StatusCode
	out.Connect = time.Now()
	if err := sess.Ack(ctx); err != nil {
		log.Warn("ack", "err", err)
	}
	g.bye(ctx, sess, log)
	out.End = time.Now()
	return out
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
func (g *Gateway) cancelInvite(ctx context.Context, tp *sipTransport, sess *sipgo.DialogClientSession) {
	inv := sess.InviteRequest
	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(sip.HeaderClone(inv.Via()))
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&maxFwd)
	cancel.SetTransport(inv.Transport())
	cancel.SetBody(nil)
	cctx, stop := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
	defer stop()
	// The request is complete; the no-op option keeps sipgo from adding a
	// second Via.
	if _, err := tp.client.Do(cctx, cancel, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil {
		g.log.Debug("cancel", "err", err)
	}
}
