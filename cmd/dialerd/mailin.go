package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
	"github.com/dialerd/dialerd/mail"
	"github.com/dialerd/dialerd/store"
)

// faxSender queues a transmission durably (the engine).
type faxSender interface {
	ScheduleTransmission(ctx context.Context, tenantID string, createdBy, id int64, at time.Time) (int64, error)
}

// inbox is mail.Inbox on the store: every recipient is resolved by the
// store's one inbound resolver.
type inbox struct {
	db       *store.DB
	messages *store.Messages
	fax      faxConverter // nil: PDFs are refused, TIFFs taken
	engine   faxSender
	maxDoc   int64
	limits   store.EmailLimits // mail.in.*
	log      *slog.Logger
}

func (b *inbox) Program(ctx context.Context, address string) (dialer.ProgramType, error) {
	return b.messages.EmailProgram(ctx, address)
}

func inboundEmail(from string, m *mail.Message) store.InboundEmail {
	e := store.InboundEmail{EnvelopeFrom: from, From: m.From, Subject: m.Subject, MessageID: m.MessageID, Header: m.Header,
		Text: m.Text, HTML: m.HTML}
	for _, p := range m.Parts {
		e.Files = append(e.Files, store.InboundFile{Name: p.Name, ContentType: p.ContentType, Data: p.Data})
	}
	return e
}

func (b *inbox) ReceiveEmail(ctx context.Context, rcpt, from string, m *mail.Message) (int64, error) {
	return b.messages.ReceiveEmailWithin(ctx, rcpt, inboundEmail(from, m), b.check, b.maxDoc, b.limits)
}

func (b *inbox) EmailToFax(ctx context.Context, req mail.FaxRequest) (int64, error) {
	f := store.MailToFax{Rcpt: req.Rcpt, Account: req.Account, Number: req.Number, Email: inboundEmail(req.From, req.Message),
		Doc: store.InboundFile{Name: req.Doc.Name, ContentType: req.Doc.ContentType, Data: req.Doc.Data}}
	if req.Sender != nil {
		f.SenderTenant = req.Sender.TenantID
	}
	tenant, owner, id, err := b.messages.EmailToFax(ctx, f, b.check, b.maxDoc)
	if err != nil {
		return 0, err
	}
	// Queued durably for now: sent when a channel is free.
	if _, err := b.engine.ScheduleTransmission(ctx, tenant, owner, id, time.Now()); err != nil {
		return 0, fmt.Errorf("email to fax: transmission %d created but not queued: %w", id, err)
	}
	return id, nil
}

func (b *inbox) Authenticate(ctx context.Context, username, password string) (mail.Sender, error) {
	c, err := b.db.UserByUsername(ctx, username)
	if err != nil || c.User.Active != 1 || !dialer.CheckPassword(c.Hash, password) {
		return mail.Sender{}, errors.New("bad credentials")
	}
	return mail.Sender{TenantID: c.User.TenantID, UserID: c.User.ID, Username: c.User.Username}, nil
}

// check is what the API checks of an uploaded document: a fax TIFF as it
// is, or a PDF Ghostscript renders to fax.
func (b *inbox) check(ctx context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error) {
	kind, _, err := media.CheckDocument(src, src.Size())
	if err != nil {
		return dialer.DocumentFile{}, err
	}
	var pages int
	switch {
	case kind == media.DocumentTIFF:
		pages, err = media.CheckFaxTIFF(src, src.Size())
	case b.fax == nil:
		return dialer.DocumentFile{}, dialer.InvalidField("file", "PDF documents need Ghostscript (media.ghostscript); send a fax TIFF")
	default:
		pages, err = b.fax.PDFToFax(ctx, io.NewSectionReader(src, 0, src.Size()), fax)
	}
	if err != nil {
		return dialer.DocumentFile{}, err
	}
	return dialer.DocumentFile{Type: kind, Pages: pages}, nil
}

// startMailIn starts the SMTP listener when mail.listen is set; the
// returned func stops it.
func startMailIn(cfg Config, db *store.DB, messages *store.Messages, fax faxConverter, engine faxSender, log *slog.Logger) (func(), error) {
	if cfg.Mail.Listen == "" {
		return func() {}, nil
	}
	relay, err := relayPrefixes(cfg.Mail.RelayHosts)
	if err != nil {
		return nil, fmt.Errorf("mail.relay_hosts: %w", err)
	}
	var tc *tls.Config
	if cfg.Mail.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Mail.TLSCert, cfg.Mail.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("mail.tls_cert: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Mail.Listen)
	if err != nil {
		return nil, fmt.Errorf("mail.listen %s: %w", cfg.Mail.Listen, err)
	}
	mlog := log.With("listener", "smtp")
	in := mail.NewIn(mail.InConfig{Domain: cfg.Mail.Domain, FaxDomain: cfg.Mail.FaxDomain, MaxMessageBytes: cfg.Mail.MaxMessageBytes,
		MaxRecipients: cfg.Mail.MaxRecipients, MaxHeaderBytes: int(cfg.Mail.In.MaxHeaderBytes), Relay: relay, TLS: tc, Log: mlog,
		Inbox: &inbox{db: db, messages: messages, fax: fax, engine: engine, maxDoc: cfg.Media.MaxDocumentBytes, log: mlog,
			limits: store.EmailLimits{Documents: cfg.Mail.In.MaxDocuments, TextBytes: cfg.Mail.In.MaxTextBytes}}})
	go func() {
		if err := in.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			mlog.Error("SMTP listener stopped", "err", err)
		}
	}()
	mlog.Info("SMTP listener (receiveemail, emailtofax)", "addr", ln.Addr().String(), "starttls", tc != nil,
		"fax_domain", cfg.Mail.FaxDomain, "relay_hosts", cfg.Mail.RelayHosts)
	return func() {
		done := make(chan struct{})
		go func() { _ = in.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}, nil
}
