package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/dialerd/dialerd/dialer"
)

// TLS modes of an email provider (its settings' "tls").
const (
	TLSNone     = "none"     // plain SMTP: only for a relay on this host or a trusted network
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
)

// OutConfig configures SMTP out.
type OutConfig struct {
	// HELO is the name dialerd gives in EHLO; "" the host name.
	HELO string
	// Timeout bounds one delivery: connect, every reply, the whole DATA.
	Timeout time.Duration
	// TLS is the base TLS configuration (RootCAs in tests); nil the
	// system's roots. ServerName is always the provider's host.
	TLS *tls.Config
}

// Out is the email gateway (gateway_flag 4): one SMTP session per attempt
// to the provider's server. The server's reply decides the outcome: 2xx
// delivered, 4xx the route's fault (retried elsewhere or later), 5xx a
// final failure of that recipient; the reply is the spool's results.
type Out struct {
	cfg OutConfig
}

// NewOut returns the SMTP out gateway.
func NewOut(cfg OutConfig) *Out {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	return &Out{cfg: cfg}
}

// tlsMode is the route's TLS mode, "" meaning STARTTLS.
func tlsMode(r dialer.Route) string {
	if r.TLS == "" {
		return TLSStartTLS
	}
	return strings.ToLower(r.TLS)
}

func defaultPort(mode string) int {
	switch mode {
	case TLSImplicit:
		return 465
	case TLSStartTLS:
		return 587
	}
	return 25
}

// CheckRoute validates an email provider's fields.
func CheckRoute(r dialer.Route) error {
	switch {
	case strings.TrimSpace(r.Host) == "" || hasControl(r.Host) || strings.ContainsAny(r.Host, " /@"):
		return dialer.ContentFault("host", errors.New("the SMTP server's host name or address is required"))
	case r.Port < 0 || r.Port > 65535:
		return dialer.ContentFault("port", errors.New("must be 1-65535, or 0 for the TLS mode's port"))
	case hasControl(r.Username):
		return dialer.ContentFault("username", errLineBreak)
	case hasControl(r.Password):
		return dialer.ContentFault("password", errLineBreak)
	}
	switch tlsMode(r) {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return dialer.ContentFault("settings", fmt.Errorf("tls %q: must be none, starttls or implicit", r.TLS))
	}
	if r.Sender == "" {
		return dialer.ContentFault("settings", errors.New(`"from" (the sender address) is required for an email provider`))
	}
	if _, err := address(r.Sender); err != nil {
		return dialer.ContentFault("settings", fmt.Errorf(`"from": %w`, err))
	}
	return nil
}

// CheckAttempt implements dialer.AttemptChecker.
func (o *Out) CheckAttempt(a dialer.Attempt) error {
	if err := CheckRoute(a.Provider); err != nil {
		return err
	}
	switch a.Program {
	case dialer.ProgramSendEmail, dialer.ProgramFaxToEmail:
	default:
		return dialer.ContentFault("program", fmt.Errorf("an email provider cannot carry %s", a.Program))
	}
	m := a.Media
	if hasControl(m.Subject) {
		return dialer.ContentFault("subject", errLineBreak)
	}
	if strings.TrimSpace(m.Body) == "" && strings.TrimSpace(m.BodyAlt) == "" && m.AttachmentPath == "" {
		return dialer.ContentFault("body", errors.New("the template has no body, text body or attachment"))
	}
	if m.AttachmentPath != "" {
		if _, err := os.Stat(m.AttachmentPath); err != nil {
			return dialer.ContentFault("template", fmt.Errorf("attachment: %w", err))
		}
	}
	if _, err := address(a.Email); err != nil {
		return dialer.ContentFault("email", err)
	}
	return nil
}

// Deliver implements dialer.Gateway.
func (o *Out) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	start := time.Now()
	if err := CheckRoute(a.Provider); err != nil {
		return dialer.Outcome{}, err
	}
	rcpt, err := address(a.Email)
	if err != nil {
		// The contact's address, not the template: this transmission only.
		return dialer.Outcome{Cause: dialer.CauseInvalidNumber, Start: start, End: time.Now(),
			Results: []dialer.Result{{Type: "smtp", Name: "error", Data: "recipient: " + err.Error()}}}, nil
	}
	if err := o.CheckAttempt(a); err != nil {
		return dialer.Outcome{}, err
	}
	msg, err := o.message(a, rcpt)
	if err != nil {
		return dialer.Outcome{}, err
	}
	client, err := o.client(a.Provider)
	if err != nil {
		return dialer.Outcome{}, dialer.ContentFault("settings", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	sendErr := client.DialAndSendWithContext(ctx, msg)
	end := time.Now()
	if sendErr == nil {
		reply := "250 " + msg.ServerResponse()
		return dialer.Outcome{Cause: "NORMAL_CLEARING", Start: start, Connect: end, End: end, Delivered: true,
			Results: []dialer.Result{{Type: "smtp", Name: "reply", Data: reply}, {Type: "smtp", Name: "to", Data: rcpt}}}, nil
	}
	code, text := replyOf(sendErr)
	if code == 0 {
		// No reply from the server: it could not be reached or spoke no
		// SMTP (connection refused, TLS failure, timeout).
		return dialer.Outcome{}, dialer.RouteFault(dialer.CauseGatewayError, fmt.Errorf("smtp %s: %w", a.Provider.Host, sendErr))
	}
	return SMTPOutcome(code, text, start, end), nil
}

// Recover implements dialer.Recoverer: an SMTP session does not outlive
// the process that held it, so an attempt left open is over, its reply
// unknown. The engine closes it from what the store knew (unanswered: the
// restart cause, retried while tries remain; a message the server had
// accepted just before the crash may so be sent twice).
func (o *Out) Recover(context.Context, dialer.RecoverSpool, func(dialer.Progress)) (dialer.Outcome, error) {
	return dialer.Outcome{}, dialer.ErrCallGone
}

// SMTPOutcome is what a final SMTP reply means: the one mapping of SMTP
// codes into dialer's cause table.
func SMTPOutcome(code int, text string, start, end time.Time) dialer.Outcome {
	reply := strconv.Itoa(code) + " " + oneLine(text)
	out := dialer.Outcome{Start: start, End: end, Results: []dialer.Result{{Type: "smtp", Name: "reply", Data: reply}}}
	switch {
	case code >= 200 && code < 300:
		out.Cause, out.Connect, out.Delivered = "NORMAL_CLEARING", end, true
	case code == 530 || code == 534 || code == 535 || code == 454:
		// Authentication required or refused: the provider's credentials.
		out.Cause = dialer.CauseAuthFailed
	case code >= 400 && code < 500:
		out.Cause = dialer.CauseSMTPTempFailure
	default:
		out.Cause = dialer.CauseSMTPRejected
	}
	return out
}

// replyOf is the SMTP reply inside a go-mail error: its code (0 when the
// server never answered) and text.
func replyOf(err error) (int, string) {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code, tp.Msg
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		text := se.Error()
		// "<reason>: 550 <text>, affected recipient(s): …"
		if i := strings.Index(text, strconv.Itoa(se.ErrorCode())+" "); i >= 0 {
			text = text[i+4:]
		}
		if i := strings.Index(text, ", affected "); i >= 0 {
			text = text[:i]
		}
		if u, err := strconv.Unquote(text); err == nil {
			text = u
		}
		return se.ErrorCode(), text
	}
	return 0, ""
}

// client is a go-mail client for route r.
func (o *Out) client(r dialer.Route) (*gomail.Client, error) {
	mode := tlsMode(r)
	port := r.Port
	if port == 0 {
		port = defaultPort(mode)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.cfg.TLS != nil {
		tc = o.cfg.TLS.Clone()
	}
	tc.ServerName = r.Host
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(o.cfg.Timeout), gomail.WithTLSConfig(tc),
		gomail.WithoutNoop()}
	switch mode {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if o.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(o.cfg.HELO))
	}
	if r.Username != "" {
		auth := gomail.SMTPAuthPlain
		if mode == TLSNone {
			// The operator chose a relay without TLS (this host, a trusted
			// network): PLAIN goes in the clear to it.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(r.Username), gomail.WithPassword(r.Password))
	}
	return gomail.NewClient(r.Host, opts...)
}

// message builds the mail of attempt a to rcpt.
func (o *Out) message(a dialer.Attempt, rcpt string) (*gomail.Msg, error) {
	sender, err := address(a.Provider.Sender)
	if err != nil {
		return nil, dialer.ContentFault("settings", err)
	}
	subject, htmlBody, textBody := render(a.Media, a.Contact)
	m := gomail.NewMsg()
	if err := m.From(sender); err != nil {
		return nil, dialer.ContentFault("settings", err)
	}
	if err := m.To(rcpt); err != nil {
		return nil, dialer.ContentFault("email", err)
	}
	m.Subject(subject)
	m.SetDate()
	m.SetMessageIDWithValue(a.CallUUID + "@dialerd")
	switch {
	case htmlBody != "" && textBody != "":
		m.SetBodyString(gomail.TypeTextPlain, textBody)
		m.AddAlternativeString(gomail.TypeTextHTML, htmlBody)
	case htmlBody != "":
		m.SetBodyString(gomail.TypeTextHTML, htmlBody)
	default:
		m.SetBodyString(gomail.TypeTextPlain, textBody)
	}
	if p := a.Media.AttachmentPath; p != "" {
		f, err := os.Open(p)
		if err != nil {
			return nil, dialer.ContentFault("template", fmt.Errorf("attachment: %w", err))
		}
		defer f.Close()
		ext := strings.ToLower(strings.Trim(a.Media.AttachmentType, ". "))
		if ext == "" || strings.ContainsAny(ext, `/\`) || hasControl(ext) {
			ext = "bin"
		}
		name := "attachment." + ext
		if a.Program == dialer.ProgramFaxToEmail {
			name = "fax." + ext
		}
		if err := m.AttachReader(filepath.Base(name), f); err != nil {
			return nil, dialer.ContentFault("template", fmt.Errorf("attachment: %w", err))
		}
	}
	return m, nil
}
