package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/sip"
	"github.com/dialerd/dialerd/store"
)

// trunkWatch keeps the SIP gateway's set of watched trunks (OPTIONS,
// REGISTER) equal to the active SIP providers of the store, re-read every
// interval so that an added, changed or disabled provider is picked up
// without a restart.
type trunkWatch struct {
	db       *store.DB
	gw       *sip.Gateway
	log      *slog.Logger
	interval time.Duration

	mu  sync.Mutex
	ids []int64 // watched provider ids, for /readyz
}

func (w *trunkWatch) run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *trunkWatch) sync(ctx context.Context) {
	trunks, err := w.db.Trunks(ctx, dialer.GatewaySIP)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("reading SIP trunks", "err", err)
		}
		return
	}
	set := make([]sip.Trunk, 0, len(trunks))
	ids := make([]int64, 0, len(trunks))
	for _, t := range trunks {
		set = append(set, sip.Trunk{Route: t.Route, Register: t.Register})
		ids = append(ids, t.Route.ProviderID)
	}
	if err := w.gw.SetTrunks(set); err != nil {
		w.log.Error("watching SIP trunks", "err", err)
		return
	}
	w.mu.Lock()
	w.ids = ids
	w.mu.Unlock()
}

// health is api.Deps.TrunkHealth.
func (w *trunkWatch) health(providerID int64) (up, known bool) {
	h, ok := w.gw.Health(providerID)
	return h.Up, ok
}

// check is an optional /readyz check naming the trunks that are down.
func (w *trunkWatch) check(context.Context) error {
	w.mu.Lock()
	ids := slices.Clone(w.ids)
	w.mu.Unlock()
	var down []string
	for _, id := range ids {
		if h, ok := w.gw.Health(id); ok && h.State == sip.TrunkDown {
			down = append(down, fmt.Sprintf("provider %d down since %s", id, h.LastChange.UTC().Format(time.RFC3339)))
		}
	}
	if len(down) > 0 {
		return errors.New(strings.Join(down, "; "))
	}
	return nil
}

// receiveSMS is the SIP gateway's OnMessage: an SMS to a DID of ours
// becomes an inbound transmission; to any other number, 404.
func receiveSMS(db *store.DB, log *slog.Logger) sip.InboundMessageFunc {
	return func(ctx context.Context, from, to, body string) error {
		from, to = e164ish(from), e164ish(to)
		id, err := db.ReceiveSMS(ctx, from, to, body, time.Now())
		if errors.Is(err, dialer.ErrNotFound) {
			return sip.ErrUnknownRecipient
		}
		if err != nil {
			log.Error("recording an inbound SMS", "to", to, "err", err)
			return err
		}
		log.Info("inbound SMS", "to", to, "transmission_id", id)
		return nil
	}
}

// e164ish writes a SIP user part the way numbers are stored: "+" and
// digits, when it is a number at all.
func e164ish(user string) string {
	digits := strings.TrimPrefix(user, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return user
	}
	return "+" + digits
}
