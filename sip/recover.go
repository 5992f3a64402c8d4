package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

// recoverCSeqStep is added to a saved dialog's CSeq for a request from a
// later process: the process that died may have sent a BYE (and its
// authenticated retry) with the next numbers, and the far end wants ours
// higher (RFC 3261 12.2.2).
const recoverCSeqStep = 10

// errNoReply: a request of recovery got no final response at all.
var errNoReply = errors.New("sip: no final response")

// Recover (dialer.Recoverer) ends a call a previous process left: this
// process cannot continue it (the media was the dead process's), so no
// call is ever followed, only ended, and Recover returns
// dialer.ErrCallGone for the engine to close the spool from what the store
// knew. An answered call with a saved dialog gets ACK (the dead process
// may not have sent it) and BYE (answering a digest challenge with the
// trunk's credentials); any other gets CANCEL for the
// INVITEs its call UUID rebuilds (see inviteBranch). When the trunk does
// not answer the BYE, Recover returns dialer.ErrCallUnknown so that the
// engine asks again and the callee is not left connected. A 200 OK that
// still arrives for such a call is a stray answer (Config.OnStrayAnswer).
func (g *Gateway) Recover(ctx context.Context, s dialer.RecoverSpool, progress func(dialer.Progress)) (dialer.Outcome, error) {
	if !g.enter() {
		return dialer.Outcome{}, dialer.ErrCallUnknown
	}
	defer g.work.Done()
	a := s.Attempt
	if a.Program != dialer.ProgramVoiceMessage && a.Program != dialer.ProgramVoiceTTS {
		// A MESSAGE is one transaction: nothing is left open.
		return dialer.Outcome{}, dialer.ErrCallGone
	}
	g.mu.Lock()
	_, live := g.calls[a.CallUUID]
	g.mu.Unlock()
	if live {
		// This process still follows it (the engine restarted, not the
		// daemon): its Deliver will report how it ends.
		return dialer.Outcome{}, dialer.ErrCallUnknown
	}
	log := g.log.With("call_uuid", a.CallUUID, "provider_id", a.Provider.ProviderID)
	if len(s.Dialog) > 0 {
		d, err := parseDialog(s.Dialog)
		if err == nil {
			// The dead process may have died between the 200 and its
			// ACK: ACK first (a confirmed dialog absorbs a second one),
			// and take the 2xx retransmissions that may still come for
			// this call's, not for strays to report.
			g.mu.Lock()
			g.strays[d.CallID] = time.Now()
			g.mu.Unlock()
			g.ackAnswer(d)
			err = g.byeSaved(ctx, d, a.Provider)
			switch {
			case errors.Is(err, errNoReply):
				// A BYE that times out ends the dialog all the same (RFC
				// 3261 15.1.1): the far end is gone or has ended it.
				log.Warn("recovery: BYE of a call left by a previous process was not answered; the dialog is over", "err", err)
			case err != nil:
				log.Warn("recovery: BYE", "err", err)
			default:
				log.Info("recovery: ended a call left by a previous process with BYE")
			}
			return dialer.Outcome{}, dialer.ErrCallGone
		}
		log.Warn("recovery: unusable saved dialog; cancelling instead", "err", err)
	}
	g.cancelRebuilt(ctx, a, log)
	// The callee may have answered just before the crash: the 200 went to
	// the dead process, and its retransmissions (T1 doubling to T2) now
	// reach us as a stray answer, which handleStrayResponse ACKs and ends.
	// Wait for one a little, so that an answered callee is recorded
	// answered and never dialled again.
	if at, ok := g.strayAnswerOf(ctx, a.CallUUID, g.cfg.ResponseTimeout); ok {
		log.Info("recovery: the callee had answered; the call was ended with BYE")
		return dialer.Outcome{Cause: "NORMAL_CLEARING", SIPCode: 200, Connect: at, End: time.Now(),
			Failure: dialer.CauseNotDelivered}, nil
	}
	return dialer.Outcome{}, dialer.ErrCallGone
}

// strayAnswerOf waits up to d for a stray 2xx of the call and says when
// it came.
func (g *Gateway) strayAnswerOf(ctx context.Context, callID string, d time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(d)
	for {
		g.mu.Lock()
		at, ok := g.strays[callID]
		g.mu.Unlock()
		if ok {
			return at, true
		}
		if !time.Now().Before(deadline) {
			return time.Time{}, false
		}
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cancelRebuilt sends CANCEL for each INVITE a call may have left pending,
// rebuilt from its call UUID, until one is accepted. A trunk answers 481
// for an INVITE that is no longer pending (answered, refused, never sent).
func (g *Gateway) cancelRebuilt(ctx context.Context, a dialer.Attempt, log interface {
	Info(string, ...any)
	Debug(string, ...any)
}) {
	ob, err := g.prepare(a)
	if err != nil {
		return // it could not have been sent either
	}
	for n := 1; n <= maxInvites; n++ {
		inv := g.inviteRequest(ob, n, nil)
		cctx, cancel := context.WithTimeout(ctx, g.cfg.ResponseTimeout)
		code, err := g.sendCancel(cctx, ob.tp, inv)
		cancel()
		if err != nil {
			log.Debug("recovery: CANCEL", "invite", n, "err", err)
			continue
		}
		if code >= 200 && code < 300 {
			log.Info("recovery: cancelled a call left ringing by a previous process", "invite", n)
			return
		}
	}
}

// byeSaved sends BYE in a saved dialog.
func (g *Gateway) byeSaved(ctx context.Context, d savedDialog, route dialer.Route) error {
	tp := g.udp
	if strings.EqualFold(d.Transport, "tcp") {
		tp = g.tcp
	}
	req, err := d.request(sip.BYE, d.CSeq+recoverCSeqStep, g.cfg.UserAgent)
	if err != nil {
		return err
	}
	bctx, cancel := context.WithTimeout(ctx, byeTimeout)
	defer cancel()
	res, err := tp.client.Do(bctx, req)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoReply, err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && route.Password != "" {
		res, err = tp.client.DoDigestAuth(bctx, req, res, sipgo.DigestAuth{Username: route.Username, Password: route.Password})
		if err != nil {
			return fmt.Errorf("%w: %w", errNoReply, err)
		}
	}
	switch {
	case res.IsSuccess():
		return nil
	case res.StatusCode == 481:
		return nil // the dialog is already gone
	}
	return fmt.Errorf("sip: BYE answered %d %s", res.StatusCode, res.Reason)
}

// dialogOfResponse is the dialog a 2xx to one of our INVITEs establishes,
// read from the response alone (a stray answer has no request here).
func dialogOfResponse(res *sip.Response) (savedDialog, error) {
	var fallback string
	if host, port, err := net.SplitHostPort(res.Source()); err == nil {
		fallback = "sip:" + net.JoinHostPort(host, port)
	}
	return newDialog(res.From(), res.To(), res.CallID(), res.CSeq(), res.Transport(), res, fallback)
}

// handleStrayResponse takes the responses no client transaction matched
// (RFC 3261 17.1.1.2 hands them to the core). For INVITEs of no live call
// of this process: a 2xx is ACKed and, the first time, ended with BYE and
// reported to Config.OnStrayAnswer; a later retransmission is only ACKed.
// A retransmitted 2xx of a call this process answered is ACKed again. A
// non-2xx final (the 487 after a recovery CANCEL) is ACKed so the trunk
// stops retransmitting it.
func (g *Gateway) handleStrayResponse(res *sip.Response) {
	cseq, callIDh := res.CSeq(), res.CallID()
	if cseq == nil || callIDh == nil || cseq.MethodName != sip.INVITE || res.IsProvisional() {
		return
	}
	callID := callIDh.Value()
	now := time.Now()
	g.mu.Lock()
	_, live := g.calls[callID]
	_, answered := g.answeredCalls[callID]
	_, seen := g.strays[callID]
	first := !live && !answered && !seen && res.IsSuccess()
	if first {
		g.strays[callID] = now
	}
	g.mu.Unlock()
	if live {
		return // its transaction is being set up or torn down by its call
	}
	if !res.IsSuccess() {
		g.ackFailure(res)
		return
	}
	d, err := dialogOfResponse(res)
	if err != nil {
		g.log.Debug("stray answer", "err", err)
		return
	}
	g.ackAnswer(d)
	if !first {
		return
	}
	if !g.enter() {
		return
	}
	go func() {
		defer g.work.Done()
		g.log.Warn("answer to an INVITE no live call owns (a previous process's, or a trunk we gave up on): ending it with BYE",
			"call_id", callID, "from", res.Source())
		if err := g.byeSaved(g.ctx, d, g.trunkAt(res.Source())); err != nil {
			g.log.Warn("stray answer: BYE", "call_id", callID, "err", err)
		}
	}()
	if uuid, ok := callUUIDOf(callID); ok && g.cfg.OnStrayAnswer != nil {
		g.cfg.OnStrayAnswer(uuid, now)
	}
}

// ackAnswer sends the ACK of a 2xx (RFC 3261 13.2.2.4): a request of the
// dialog with the INVITE's CSeq number, in a new transaction of its own.
func (g *Gateway) ackAnswer(d savedDialog) {
	tp := g.udp
	if strings.EqualFold(d.Transport, "tcp") {
		tp = g.tcp
	}
	ack, err := d.request(sip.ACK, d.CSeq, g.cfg.UserAgent)
	if err != nil {
		g.log.Debug("stray answer: ACK", "err", err)
		return
	}
	if err := tp.client.WriteRequest(ack); err != nil {
		g.log.Debug("stray answer: ACK", "err", err)
	}
}

// ackFailure sends the ACK of a non-2xx final response to an INVITE of
// ours whose transaction is gone (RFC 3261 17.1.1.3): same Via branch, the
// response's To.
func (g *Gateway) ackFailure(res *sip.Response) {
	via, from, to := res.Via(), res.From(), res.To()
	if via == nil || from == nil || to == nil {
		return
	}
	tp := g.udp
	if strings.EqualFold(res.Transport(), "tcp") {
		tp = g.tcp
	}
	uri := to.Address
	if host, port, err := sip.ParseAddr(res.Source()); err == nil {
		uri.Host, uri.Port = host, port
	}
	ack := sip.NewRequest(sip.ACK, uri)
	topVia := sip.HeaderClone(via).(*sip.ViaHeader)
	topVia.Params.Remove("received")
	topVia.Params.Remove("rport")
	ack.AppendHeader(topVia)
	ack.AppendHeader(sip.HeaderClone(from))
	ack.AppendHeader(sip.HeaderClone(to))
	ack.AppendHeader(sip.HeaderClone(res.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: sip.ACK})
	maxFwd := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&maxFwd)
	ack.SetTransport(res.Transport())
	ack.SetBody(nil)
	if err := tp.client.WriteRequest(ack, g.fromListener); err != nil {
		g.log.Debug("ACK of a final response", "err", err)
	}
}

// fromListener is a client request option for a request that is complete:
// it adds nothing, but makes a UDP request leave from the listening socket
// (so replies come back to it even after a restart).
func (g *Gateway) fromListener(_ *sipgo.Client, r *sip.Request) error {
	if strings.EqualFold(r.Transport(), "udp") {
		ua := g.udpConn.LocalAddr().(*net.UDPAddr)
		r.Laddr = sip.Addr{IP: ua.IP, Port: ua.Port}
	}
	return nil
}

// trunkAt is the watched trunk at a response's source address, for its
// credentials; the zero Route when none is.
func (g *Gateway) trunkAt(source string) dialer.Route {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		return dialer.Route{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.trunks {
		if r := m.trunk.Route; r.Host == host {
			return r
		}
	}
	return dialer.Route{}
}
