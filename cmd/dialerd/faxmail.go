package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/mail"
)

// emailRoutes finds the tenant's email providers, in the order to try
// them (store.DB.EmailRoutes).
type emailRoutes interface {
	EmailRoutes(ctx context.Context, tenantID string) ([]dialer.Route, error)
}

// mailDeliverer is the email gateway (mail.Out).
type mailDeliverer interface {
	Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error)
}

// smtpFaxMailer mails received faxes through the tenant's email provider
// with the email gateway itself, so that a faxtoemail is sent, refused and
// judged exactly as a sendemail would be.
type smtpFaxMailer struct {
	routes emailRoutes
	out    mailDeliverer
}

// MailFax implements FaxMailer. A route's fault (a 4xx, no answer) moves
// the mail to the tenant's next email provider, as the engine would move
// an attempt; the last provider's outcome is the fax's. Nothing retries it
// later: the fax stays a document of the account either way.
func (m *smtpFaxMailer) MailFax(ctx context.Context, f FaxMail) (dialer.Outcome, error) {
	routes, err := m.routes.EmailRoutes(ctx, f.TenantID)
	if errors.Is(err, dialer.ErrNotFound) {
		// The tenant's configuration, not the fax: no route could carry it.
		return dialer.Outcome{}, dialer.ContentFault("provider", errors.New("the tenant has no active email provider (gateway_flag 4) to mail the fax through"))
	}
	if err != nil {
		return dialer.Outcome{}, err
	}
	from := faxCaller(f.From)
	pages := "1 page"
	if f.Pages != 1 {
		pages = fmt.Sprintf("%d pages", f.Pages)
	}
	a := dialer.Attempt{CallUUID: f.CallUUID, TenantID: f.TenantID, Program: dialer.ProgramFaxToEmail, Email: f.To,
		Media: dialer.Media{
			Subject: "Fax from " + from + " (" + pages + ")",
			BodyAlt: "A fax from " + from + " to " + faxCaller(f.DID) + " was received: " + pages +
				", attached as PDF.\n",
			AttachmentPath: f.PDFPath, AttachmentType: "pdf",
		}}
	var o dialer.Outcome
	for _, r := range routes {
		a.Provider = r
		o, err = m.out.Deliver(ctx, a, func(dialer.Progress) {})
		v := dialer.Classify(o)
		if err != nil {
			v = dialer.ClassifyError(err)
		}
		if v.Fault != dialer.FaultRoute || ctx.Err() != nil {
			break
		}
	}
	return o, err
}

// faxCaller is a number from the trunk fit for a subject line: its digits
// and a leading +, "anonymous" when nothing is left. The trunk's caller ID
// is not trusted with a header or a template placeholder.
func faxCaller(s string) string {
	var b strings.Builder
	for i, r := range s {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.String() == "+" {
		return "anonymous"
	}
	return b.String()
}

// faxMailer is the mailer of faxtoemail: the email gateway (mail.Out, as
// configured by mail.*) through the receiving tenant's email provider.
func faxMailer(cfg Config, db emailRoutes) FaxMailer {
	return &smtpFaxMailer{routes: db, out: mail.NewOut(mail.OutConfig{HELO: cfg.Mail.HELO, Timeout: cfg.Mail.Timeout})}
}
