package sip

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialerd/dialerd/dialer"
)

// maxInboundBody bounds an inbound MESSAGE body we hand on.
const maxInboundBody = 64 << 10

// sendSMS sends one SIP MESSAGE (RFC 3428, text/plain) per segment, in
// order, stopping at the first that is refused. Segment i of n (n > 1) has
// Call-ID "<CallUUID>-<i>", a single one the CallUUID itself; each is its
// own transaction. A retry resends every segment: the engine decides.
func (g *Gateway) sendSMS(ctx context.Context, a dialer.Attempt) (dialer.Outcome, error) {
	if a.CallUUID == "" {
		a.CallUUID = uuid.NewString()
	}
	ob, err := g.prepare(a)
	if err != nil {
		return dialer.Outcome{}, err
	}
	segments := a.Media.Segments
	if len(segments) == 0 {
		segments = []string{a.Media.Text}
	}
	for _, s := range segments {
		if s == "" || !utf8.ValidString(s) {
			return dialer.Outcome{}, dialer.InvalidField("text", "must be non-empty UTF-8")
		}
	}

	if err := ctx.Err(); err != nil {
		return dialer.Outcome{}, err
	}
	out := dialer.Outcome{Start: time.Now()}
	for i, text := range segments {
		callID := a.CallUUID
		if len(segments) > 1 {
			callID += "-" + strconv.Itoa(i+1)
		}
		code, err := g.sendMessage(ctx, ob, sip.CallIDHeader(callID), a.Provider, text)
		switch {
		case err == nil:
		case i == 0 && errors.Is(err, ErrTransport):
			return dialer.Outcome{}, dialer.RouteFault(causeTrunkDown, err)
		case errors.Is(err, sip.ErrTransactionTimeout):
			code = 408
			out.Cause = CauseRecoveryOnTimerExpire
		case ctx.Err() != nil:
			out.Cause = CauseOriginatorCancel
		default:
			out.Cause = CauseNormalTemporaryFailure
		}
		if code != 0 {
			out.SIPCode = code
			out.Results = append(out.Results, dialer.Result{Type: "sip", Name: "message", Data: strconv.Itoa(code)})
		}
		if err != nil || code >= 300 {
			if out.Cause == "" {
				out.Cause = dialer.SIPCause(code)
			}
			out.End = time.Now()
			return out, nil
		}
	}
	// Every segment was accepted with a 2xx: for SIP MESSAGE that is the
	// delivery the network confirms (as an SMTP 2xx is for email).
	out.Cause = CauseNormalClearing
	out.End = time.Now()
	out.Connect, out.Delivered = out.End, true
	return out, nil
}

// sendMessage sends one MESSAGE, answering a digest challenge, and returns
// the final status. A transport failure before any response wraps
// ErrTransport.
func (g *Gateway) sendMessage(ctx context.Context, ob outbound, callID sip.CallIDHeader, route dialer.Route, text string) (int, error) {
	ob.callID = callID
	ob.from.Params = sip.NewParams()
	ob.from.Params.Add("tag", sip.GenerateTagN(16))
	req := g.request(sip.MESSAGE, ob)
	ct := sip.ContentTypeHeader("text/plain;charset=UTF-8")
	req.AppendHeader(&ct)
	req.SetBody([]byte(text))

	mctx, cancel := context.WithTimeout(ctx, messageTimeout)
	defer cancel()
	res, err := ob.tp.client.Do(mctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && route.Password != "" {
		res, err = ob.tp.client.DoDigestAuth(mctx, req, res, sipgo.DigestAuth{Username: route.Username, Password: route.Password})
	}
	switch {
	case err == nil:
		return res.StatusCode, nil
	case errors.Is(err, sip.ErrTransactionTransport):
		return 0, fmt.Errorf("%w: %w", ErrTransport, err)
	case ctx.Err() == nil && mctx.Err() != nil:
		// Our bound, not the caller's: the trunk did not answer.
		return 0, fmt.Errorf("%w: %w", sip.ErrTransactionTimeout, err)
	}
	return 0, err
}

// handleMessage delivers an inbound MESSAGE to Config.OnMessage and answers
// 200 when it took it, 404 for an unknown recipient (or no handler), 415
// for anything but text/plain, 400 for a body that is not UTF-8 text, 500
// when the handler failed, 503 while closing.
func (g *Gateway) handleMessage(req *sip.Request, tx sip.ServerTransaction) {
	if g.cfg.OnMessage == nil {
		g.respond(tx, req, 404, "Not Found")
		return
	}
	ct := req.ContentType()
	if ct == nil {
		g.respond(tx, req, 415, "Unsupported Media Type")
		return
	}
	mediaType, params, err := mime.ParseMediaType(ct.Value())
	if err != nil || mediaType != "text/plain" {
		g.respond(tx, req, 415, "Unsupported Media Type")
		return
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		g.respond(tx, req, 415, "Unsupported Media Type")
		return
	}
	body := req.Body()
	if len(body) > maxInboundBody || !utf8.Valid(body) {
		g.respond(tx, req, 400, "Bad Request")
		return
	}
	from, to := req.From(), req.To()
	if from == nil || to == nil {
		g.respond(tx, req, 400, "Bad Request")
		return
	}
	// The Request-URI names the target (RFC 3428); trunks put the DID there.
	recipient := req.Recipient.User
	if recipient == "" {
		recipient = to.Address.User
	}
	if !g.enter() {
		g.respond(tx, req, 503, "Service Unavailable")
		return
	}
	defer g.work.Done()
	ctx, cancel := context.WithTimeout(g.ctx, inboundTimeout)
	defer cancel()
	err = g.cfg.OnMessage(ctx, from.Address.User, recipient, string(body))
	switch {
	case err == nil:
		g.respond(tx, req, 200, "OK")
	case errors.Is(err, ErrUnknownRecipient):
		g.respond(tx, req, 404, "Not Found")
	default:
		g.log.Warn("inbound message", "err", err)
		g.respond(tx, req, 500, "Server Internal Error")
	}
}
