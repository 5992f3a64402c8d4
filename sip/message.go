package sip

import (
	"context"
	"errors"

	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

func (g *Gateway) sendSMS(ctx context.Context, a dialer.Attempt) (dialer.Outcome, error) {
	return dialer.Outcome{}, errors.New("not yet")
}

func (g *Gateway) handleMessage(req *sip.Request, tx sip.ServerTransaction) {
	g.respond(tx, req, 404, "Not Found")
}
