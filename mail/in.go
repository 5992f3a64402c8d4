package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/dialerd/dialerd/dialer"
)

// Inbox is where the SMTP listener hands what it accepts (the store,
// through cmd/dialerd). Every lookup goes through the store's one inbound
// resolver.
type Inbox interface {
	// Program is the program that receives mail to address (an email
	// account's receiveemail or emailtofax), dialer.ErrNotFound for none.
	Program(ctx context.Context, address string) (dialer.ProgramType, error)
	// ReceiveEmail records m for the receiveemail account rcpt.
	ReceiveEmail(ctx context.Context, rcpt, envelopeFrom string, m *Message) (transmissionID int64, err error)
	// EmailToFax faxes doc to req.Number and records the mail.
	EmailToFax(ctx context.Context, req FaxRequest) (transmissionID int64, err error)
	// Authenticate checks a dialerd user's password.
	Authenticate(ctx context.Context, username, password string) (Sender, error)
}

// Sender is an authenticated dialerd user.
type Sender struct {
	TenantID string
	UserID   int64
	Username string
}

// FaxRequest is a mail that becomes an outbound fax.
type FaxRequest struct {
	// Rcpt is the address it came to: an emailtofax account, or
	// <number>@<fax domain>, in which case Account is false and the
	// emailtofax program is the envelope sender's account's.
	Rcpt    string
	Account bool
	Number  string // E.164
	From    string // envelope sender
	Sender  *Sender
	Message *Message
	Doc     Attachment
}

// InConfig configures the SMTP listener.
type InConfig struct {
	Domain          string
	FaxDomain       string // "" : no <number>@domain faxing
	MaxMessageBytes int64
	MaxRecipients   int
	// MaxHeaderBytes is how much of a message's header block is kept
	// (Message.Header); 0: DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// Relay are the client addresses that may have mail faxed without
	// AUTH; everyone else must AUTH PLAIN over TLS.
	Relay []netip.Prefix
	TLS   *tls.Config // nil: no STARTTLS, and so no AUTH
	Inbox Inbox
	Log   *slog.Logger
}

// In is the SMTP listener for receiveemail and emailtofax.
type In struct {
	cfg InConfig
	srv *smtp.Server

	// checks bounds the password checks (bcrypt) running at once; fails
	// slows down a client address guessing passwords across connections.
	checks chan struct{}
	mu     sync.Mutex
	fails  map[netip.Addr]authFails
}

type authFails struct {
	n     int
	until time.Time // no check before then
}

// Failed AUTH attempts: after authFreeFails from one address, each next
// attempt must wait a delay doubling from one second to authMaxDelay.
const (
	authFreeFails = 5
	authMaxDelay  = 5 * time.Minute
	maxAuthAddrs  = 10000
)

// authAllowed reports whether addr may try a password now.
func (in *In) authAllowed(addr netip.Addr, now time.Time) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !now.Before(in.fails[addr].until)
}

// authResult records the outcome of a password check from addr.
func (in *In) authResult(addr netip.Addr, ok bool, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if ok {
		delete(in.fails, addr)
		return
	}
	f, known := in.fails[addr]
	if !known && len(in.fails) >= maxAuthAddrs {
		for a, f := range in.fails {
			if now.Sub(f.until) > authMaxDelay {
				delete(in.fails, a)
			}
		}
	}
	f.n++
	if f.n >= authFreeFails {
		f.until = now.Add(min(time.Second<<min(f.n-authFreeFails, 20), authMaxDelay))
	}
	if known || len(in.fails) < maxAuthAddrs {
		in.fails[addr] = f
	}
}

// NewIn returns the SMTP listener; Serve starts it.
func NewIn(cfg InConfig) *In {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	in := &In{cfg: cfg, checks: make(chan struct{}, 4), fails: map[netip.Addr]authFails{}}
	s := smtp.NewServer(backend{in})
	s.Domain = cfg.Domain
	s.MaxMessageBytes = cfg.MaxMessageBytes
	s.MaxRecipients = cfg.MaxRecipients
	s.TLSConfig = cfg.TLS
	s.AllowInsecureAuth = false // AUTH only after STARTTLS
	s.ReadTimeout = 2 * time.Minute
	s.WriteTimeout = 2 * time.Minute
	s.ErrorLog = errorLog{cfg.Log}
	in.srv = s
	return in
}

type errorLog struct{ l *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.l.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.l.Warn("smtp: " + fmt.Sprint(v...)) }

// Serve accepts connections on l until Close.
func (in *In) Serve(l net.Listener) error { return in.srv.Serve(l) }

// Close stops the listener and its sessions.
func (in *In) Close() error { return in.srv.Close() }

type backend struct{ in *In }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		remote = ap.Addr().Unmap()
	}
	return &session{in: b.in, conn: c, remote: remote}, nil
}

// rcpt is one accepted recipient.
type rcpt struct {
	addr    string
	program dialer.ProgramType // ProgramReceiveEmail or ProgramEmailToFax
	number  string             // <number>@<fax domain>
}

type session struct {
	in     *In
	conn   *smtp.Conn
	remote netip.Addr

	mu       sync.Mutex
	sender   *Sender
	authFail int
	from     string
	rcpts    []rcpt
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication (AUTH PLAIN over STARTTLS) or an allowed relay host is required to fax"}
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	errBadAddr   = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad address syntax"}
	errTryLater  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errNoFaxDoc  = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "A fax needs a PDF or TIFF attachment"}
	errBadNumber = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "The subject must be the fax number (digits, optional leading +)"}
	errBadMessage = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message"}
)

func (s *session) AuthMechanisms() []string {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	if _, ok := s.conn.TLSConnectionState(); !ok {
		return nil, smtp.ErrAuthUnsupported
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return errors.New("identity must be the username")
		}
		if !s.in.authAllowed(s.remote, time.Now()) {
			s.in.cfg.Log.Warn("smtp: authentication refused unchecked: too many failures from this address", "remote", s.remote.String())
			return smtp.ErrAuthFailed
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		select {
		case s.in.checks <- struct{}{}:
		case <-ctx.Done():
			return smtp.ErrAuthFailed
		}
		sender, err := s.in.cfg.Inbox.Authenticate(ctx, username, password)
		<-s.in.checks
		s.in.authResult(s.remote, err == nil, time.Now())
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.authFail++
			s.in.cfg.Log.Warn("smtp: authentication failed", "remote", s.remote.String(), "username", oneLine(username))
			if s.authFail >= 3 {
				// A client guessing passwords gets no more tries on this connection.
				s.conn.Conn().Close()
			}
			return smtp.ErrAuthFailed
		}
		s.sender = &sender
		return nil
	}), nil
}

// mayFax reports whether this session may have mail faxed.
func (s *session) mayFax() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sender != nil {
		return true
	}
	for _, p := range s.in.cfg.Relay {
		if s.remote.IsValid() && p.Contains(s.remote) {
			return true
		}
	}
	return false
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if from != "" {
		a, err := address(from)
		if err != nil {
			return errBadAddr
		}
		from = a
	}
	s.mu.Lock()
	s.from, s.rcpts = from, nil
	s.mu.Unlock()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr, err := address(to)
	if err != nil {
		return errBadAddr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := rcpt{addr: addr}
	local, domain, _ := strings.Cut(addr, "@")
	if fd := s.in.cfg.FaxDomain; fd != "" && strings.EqualFold(domain, fd) {
		n, err := e164(local)
		if err != nil {
			return errNoMailbox
		}
		r.program, r.number = dialer.ProgramEmailToFax, n
	} else {
		p, err := s.in.cfg.Inbox.Program(ctx, addr)
		switch {
		case errors.Is(err, dialer.ErrNotFound):
			return errNoMailbox
		case err != nil:
			s.in.cfg.Log.Error("smtp: resolving a recipient", "rcpt", addr, "err", err)
			return errTryLater
		}
		r.program = p
	}
	if r.program == dialer.ProgramEmailToFax && !s.mayFax() {
		return errAuthRequired
	}
	s.mu.Lock()
	s.rcpts = append(s.rcpts, r)
	s.mu.Unlock()
	return nil
}

func (s *session) Data(r io.Reader) error {
	m, err := ParseMessageKeeping(r, s.in.cfg.MaxHeaderBytes)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se // too large, a line too long: as the server says it
	}
	if err != nil {
		return errBadMessage
	}
	s.mu.Lock()
	from, rcpts, sender := s.from, s.rcpts, s.sender
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// SMTP gives one reply for all recipients: check what can be checked
	// for every one before recording any.
	for _, rc := range rcpts {
		if rc.program != dialer.ProgramEmailToFax {
			continue
		}
		if _, ok := m.FaxDocument(); !ok {
			return errNoFaxDoc
		}
		if rc.number == "" {
			if _, err := e164(m.Subject); err != nil {
				return errBadNumber
			}
		}
	}
	for _, rc := range rcpts {
		var id int64
		var err error
		switch rc.program {
		case dialer.ProgramReceiveEmail:
			id, err = s.in.cfg.Inbox.ReceiveEmail(ctx, rc.addr, from, m)
		case dialer.ProgramEmailToFax:
			doc, _ := m.FaxDocument()
			req := FaxRequest{Rcpt: rc.addr, Account: rc.number == "", Number: rc.number, From: from, Sender: sender, Message: m, Doc: doc}
			if req.Number == "" {
				req.Number, _ = e164(m.Subject)
			}
			id, err = s.in.cfg.Inbox.EmailToFax(ctx, req)
		}
		if err != nil {
			var se *smtp.SMTPError
			var de *dialer.Error
			switch {
			case errors.As(err, &se):
				return se
			case errors.Is(err, dialer.ErrNotFound):
				return errNoMailbox
			case errors.As(err, &de) && (de.Code == dialer.CodeInvalid || de.Code == dialer.CodeForbidden):
				// What the sender can fix: the document, the number, the account.
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: oneLine(de.Error())}
			}
			s.in.cfg.Log.Error("smtp: recording a message", "rcpt", rc.addr, "program", rc.program, "err", err)
			return errTryLater
		}
		s.in.cfg.Log.Info("smtp: message received", "rcpt", rc.addr, "program", rc.program, "transmission_id", id)
	}
	return nil
}

func (s *session) Reset() {
	s.mu.Lock()
	s.from, s.rcpts = "", nil
	s.mu.Unlock()
}

func (s *session) Logout() error { return nil }
