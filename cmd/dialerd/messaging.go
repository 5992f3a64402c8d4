package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/mail"
	"github.com/dialerd/dialerd/store"
)

// messageGateways adds the email gateway (always: its providers say where
// mail goes) and, with kannel.listen, the Kannel gateway and its callback
// listener to byFlag. The returned closers stop what it started.
func messageGateways(cfg Config, db *store.DB, byFlag map[int64]dialer.Gateway, log *slog.Logger) ([]func(), error) {
	byFlag[dialer.GatewaySendmail] = mail.NewOut(mail.OutConfig{HELO: cfg.Mail.HELO, Timeout: cfg.Mail.Timeout})
	if cfg.Kannel.Listen == "" {
		return nil, nil
	}
	key, err := loadOrCreateSecret(filepath.Join(cfg.DataDir, "kannel.key"), 32)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Kannel.Listen)
	if err != nil {
		return nil, fmt.Errorf("kannel.listen %s: %w", cfg.Kannel.Listen, err)
	}
	callback := cfg.Kannel.CallbackURL
	if callback == "" {
		callback = "http://" + ln.Addr().String()
	}
	klog := log.With("gateway", "kannel")
	k, err := mail.NewKannel(mail.KannelConfig{
		CallbackURL: callback, Key: key, MOToken: cfg.Kannel.MOToken, DLRTimeout: cfg.Kannel.DLRTimeout, Log: klog,
		OnMO: func(ctx context.Context, from, to, text string, at time.Time) error {
			id, err := db.ReceiveSMSVia(ctx, "kannel", from, to, text, at)
			if err == nil {
				klog.Info("inbound SMS", "to", to, "transmission_id", id)
			}
			return err
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	byFlag[dialer.GatewayKannel] = k
	srv := &http.Server{Handler: k.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(klog.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.Error("Kannel callback listener stopped", "err", err)
		}
	}()
	klog.Info("Kannel callback listener", "addr", ln.Addr().String(), "dlr_url_base", callback)
	return []func(){func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}}, nil
}
