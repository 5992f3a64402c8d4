package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/mail/mailtest"
)

// fakeInbox knows rcv@example.com (receiveemail) and fax@example.com
// (emailtofax), and the user "alice" with password "alice-password".
type fakeInbox struct {
	mu       sync.Mutex
	received []string
	faxes    []FaxRequest
	msgs     []*Message
}

func (f *fakeInbox) Program(_ context.Context, address string) (dialer.ProgramType, error) {
	switch strings.ToLower(address) {
	case "rcv@example.com":
		return dialer.ProgramReceiveEmail, nil
	case "fax@example.com":
		return dialer.ProgramEmailToFax, nil
	}
	return "", dialer.NotFound("account")
}

func (f *fakeInbox) ReceiveEmail(_ context.Context, rcpt, from string, m *Message) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received = append(f.received, from+" -> "+rcpt)
	f.msgs = append(f.msgs, m)
	return int64(len(f.received)), nil
}

func (f *fakeInbox) EmailToFax(_ context.Context, req FaxRequest) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faxes = append(f.faxes, req)
	return int64(len(f.faxes)), nil
}

func (f *fakeInbox) Authenticate(_ context.Context, user, pass string) (Sender, error) {
	if user == "alice" && pass == "alice-password" {
		return Sender{TenantID: "t1", UserID: 2, Username: "alice"}, nil
	}
	return Sender{}, errors.New("bad credentials")
}

func startIn(t *testing.T, cfg InConfig) (string, *fakeInbox) {
	t.Helper()
	inbox := &fakeInbox{}
	cfg.Inbox = inbox
	if cfg.Domain == "" {
		cfg.Domain = "mx.test"
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 1 << 20
	}
	if cfg.MaxRecipients == 0 {
		cfg.MaxRecipients = 5
	}
	in := NewIn(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go in.Serve(ln)
	t.Cleanup(func() { in.Close() })
	return ln.Addr().String(), inbox
}

// mime builds a message with a text part and one attachment.
func mimeMessage(subject, text, attName string, att []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Bob <bob@example.org>\r\nTo: rcv@example.com\r\nSubject: %s\r\nMessage-ID: <m1@example.org>\r\n", subject)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n")
	b.WriteString("--BB\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text + "\r\n")
	if attName != "" {
		b.WriteString("--BB\r\nContent-Type: application/pdf; name=\"" + attName + "\"\r\nContent-Disposition: attachment; filename=\"" + attName +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64Lines(att)
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--BB--\r\n")
	return b.String()
}

// send runs one SMTP transaction; it returns the first error with its stage.
func send(addr string, tc *tls.Config, auth smtp.Auth, from string, to []string, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if tc != nil {
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("rcpt %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data end: %w", err)
	}
	return c.Quit()
}

func code(err error) string {
	if err == nil {
		return "250"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if len(s) >= 3 {
		return s[:3]
	}
	return s
}

var pdf = []byte("%PDF-1.4\n% a test document\n%%EOF\n")

func TestInReceiveEmail(t *testing.T) {
	addr, inbox := startIn(t, InConfig{})
	msg := mimeMessage("=?utf-8?q?Caf=C3=A9?= report", "Hello =C3=A9t=C3=A9", "../../etc/report.pdf", pdf)
	if err := send(addr, nil, nil, "bob@example.org", []string{"RCV@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	if len(inbox.msgs) != 1 {
		t.Fatalf("received %v", inbox.received)
	}
	m := inbox.msgs[0]
	if m.Subject != "Café report" || strings.TrimSpace(m.Text) != "Hello été" || m.From != "bob@example.org" || m.MessageID != "<m1@example.org>" {
		t.Errorf("message %+v", m)
	}
	if !strings.Contains(m.Header, "Subject: =?utf-8?q?Caf=C3=A9?= report") {
		t.Errorf("header %q", m.Header)
	}
	if len(m.Parts) != 1 || m.Parts[0].Name != "report.pdf" || string(m.Parts[0].Data) != string(pdf) {
		t.Errorf("parts %+v", m.Parts)
	}
	if err := send(addr, nil, nil, "bob@example.org", []string{"nobody@example.com"}, msg); code(err) != "550" {
		t.Errorf("unknown recipient: %v", err)
	}
	if err := send(addr, nil, nil, "bob@example.org", []string{"rcv@example.com\r\nDATA"}, msg); err == nil {
		t.Error("a recipient with CR/LF was accepted")
	}
}

// TestInHeaderLimit: the listener keeps InConfig.MaxHeaderBytes of a
// message's header block (mail.in.max_header_bytes), the default 16 KiB
// when unset, and reads every header all the same.
func TestInHeaderLimit(t *testing.T) {
	pad := strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 30) // ~3 KiB of headers
	msg := pad + mimeMessage("padded", "hello", "", nil)
	for _, tc := range []struct {
		limit, want int
	}{{0, len(pad) + strings.Index(mimeMessage("padded", "hello", "", nil), "\r\n\r\n")}, {1024, 1024}} {
		addr, inbox := startIn(t, InConfig{MaxHeaderBytes: tc.limit})
		if err := send(addr, nil, nil, "bob@example.org", []string{"rcv@example.com"}, msg); err != nil {
			t.Fatal(err)
		}
		m := inbox.msgs[0]
		if len(m.Header) != tc.want || m.Subject != "padded" || strings.TrimSpace(m.Text) != "hello" {
			t.Errorf("limit %d: header of %d bytes (want %d), subject %q, text %q", tc.limit, len(m.Header), tc.want, m.Subject, m.Text)
		}
	}
}

func TestInFaxNeedsAuthOrRelay(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := mailtest.SelfSigned(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, inbox := startIn(t, InConfig{FaxDomain: "fax.test", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	msg := mimeMessage("+15551230001", "please fax", "doc.pdf", pdf)
	client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	// Without AUTH, from a host not allowed to relay: refused at RCPT.
	for _, to := range []string{"fax@example.com", "15551230002@fax.test"} {
		if err := send(addr, nil, nil, "bob@example.org", []string{to}, msg); code(err) != "530" {
			t.Errorf("%s without auth: %v", to, err)
		}
	}
	// AUTH is not offered in the clear.
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Hello("client.test")
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	c.Close()
	// A wrong password.
	if err := send(addr, client, smtp.PlainAuth("", "alice", "wrong", "127.0.0.1"), "bob@example.org", []string{"fax@example.com"}, msg); code(err) != "535" {
		t.Errorf("bad password: %v", err)
	}
	// AUTH PLAIN over STARTTLS: faxed, the number from the subject or the address.
	auth := smtp.PlainAuth("", "alice", "alice-password", "127.0.0.1")
	if err := send(addr, client, auth, "bob@example.org", []string{"fax@example.com", "15551230002@fax.test"}, msg); err != nil {
		t.Fatal(err)
	}
	if len(inbox.faxes) != 2 {
		t.Fatalf("faxes %+v", inbox.faxes)
	}
	f0, f1 := inbox.faxes[0], inbox.faxes[1]
	if !f0.Account || f0.Number != "+15551230001" || f0.Sender == nil || f0.Sender.TenantID != "t1" || string(f0.Doc.Data) != string(pdf) {
		t.Errorf("account fax %+v", f0)
	}
	if f1.Account || f1.Number != "+15551230002" || f1.From != "bob@example.org" {
		t.Errorf("fax-domain fax %+v", f1)
	}
	// No document: refused, nothing faxed.
	if err := send(addr, client, auth, "bob@example.org", []string{"fax@example.com"}, mimeMessage("+15551230001", "no attachment", "", nil)); code(err) != "554" {
		t.Errorf("fax without a document: %v", err)
	}
	// A subject that is no number.
	if err := send(addr, client, auth, "bob@example.org", []string{"fax@example.com"}, mimeMessage("hello", "x", "d.pdf", pdf)); code(err) != "554" {
		t.Errorf("fax without a number: %v", err)
	}
	if len(inbox.faxes) != 2 {
		t.Errorf("refused mail was faxed: %d", len(inbox.faxes))
	}
}

func TestInRelayHostAndLimits(t *testing.T) {
	addr, inbox := startIn(t, InConfig{FaxDomain: "fax.test", Relay: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxMessageBytes: 4096, MaxRecipients: 2})
	msg := mimeMessage("+15551230001", "x", "d.pdf", pdf)
	if err := send(addr, nil, nil, "fax@example.com", []string{"15551230009@fax.test"}, msg); err != nil {
		t.Fatalf("from a relay host: %v", err)
	}
	if len(inbox.faxes) != 1 || inbox.faxes[0].Sender != nil {
		t.Fatalf("faxes %+v", inbox.faxes)
	}
	big := mimeMessage("s", strings.Repeat("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", 200), "", nil)
	if err := send(addr, nil, nil, "bob@example.org", []string{"rcv@example.com"}, big); code(err) != "552" {
		t.Errorf("oversized message: %v", err)
	}
	if err := send(addr, nil, nil, "bob@example.org", []string{"rcv@example.com", "rcv@example.com", "rcv@example.com"}, msg); code(err) != "452" {
		t.Errorf("too many recipients: %v", err)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(mimeMessage("s", "t", "a.pdf", pdf)))
	f.Add([]byte("Subject: x\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n--a--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if hasControl(m.Subject) || hasControl(m.From) || hasControl(m.MessageID) || len(m.Parts) > maxParts {
			t.Fatalf("parsed %+v", m)
		}
		for _, p := range m.Parts {
			if p.Name == "" || strings.ContainsAny(p.Name, "/\\") || hasControl(p.Name) {
				t.Fatalf("part name %q", p.Name)
			}
		}
	})
}

// SMTP out authenticates (AUTH PLAIN after STARTTLS) as a provider's
// username and password; refused credentials are the route's fault.
func TestOutAuthAgainstListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := mailtest.SelfSigned(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, inbox := startIn(t, InConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	r := dialer.Route{Host: host, Port: port, TLS: TLSStartTLS, Username: "alice", Password: "alice-password", Sender: "alice@example.com"}
	out := NewOut(OutConfig{Timeout: 5 * time.Second, TLS: &tls.Config{RootCAs: pool}})
	a := dialer.Attempt{CallUUID: "u1", Program: dialer.ProgramSendEmail, Email: "rcv@example.com", Provider: r,
		Media: dialer.Media{Subject: "s", BodyAlt: "text"}}
	o, err := out.Deliver(context.Background(), a, func(dialer.Progress) {})
	if err != nil || !o.Delivered || len(inbox.msgs) != 1 {
		t.Fatalf("outcome %+v err %v", o, err)
	}
	a.Provider.Password = "wrong"
	o, err = out.Deliver(context.Background(), a, func(dialer.Progress) {})
	if err != nil {
		t.Fatal(err)
	}
	if v := dialer.Classify(o); v.Cause != dialer.CauseAuthFailed || v.Fault != dialer.FaultRoute {
		t.Errorf("bad password: %+v %+v", v, o.Results)
	}
}

// A client address that keeps failing AUTH is slowed down across
// connections: during its delay even the right password is not checked.
func TestInAuthThrottled(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := mailtest.SelfSigned(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startIn(t, InConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	msg := mimeMessage("s", "t", "", nil)
	for i := range authFreeFails {
		if err := send(addr, client, smtp.PlainAuth("", "alice", "guess"+strconv.Itoa(i), "127.0.0.1"), "a@example.org", []string{"rcv@example.com"}, msg); code(err) != "535" {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := send(addr, client, smtp.PlainAuth("", "alice", "alice-password", "127.0.0.1"), "a@example.org", []string{"rcv@example.com"}, msg); code(err) != "535" {
		t.Fatalf("the right password during the delay: %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := send(addr, client, smtp.PlainAuth("", "alice", "alice-password", "127.0.0.1"), "a@example.org", []string{"rcv@example.com"}, msg); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
}
