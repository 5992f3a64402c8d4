package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/mail/mailtest"
)

func TestSMTPOutcomeTable(t *testing.T) {
	now := time.Now()
	tests := []struct {
		code    int
		disp    dialer.Disposition
		fault   dialer.Fault
		cause   string
		invalid bool
	}{
		{250, dialer.Completed, dialer.FaultNone, "NORMAL_CLEARING", false},
		{251, dialer.Completed, dialer.FaultNone, "NORMAL_CLEARING", false},
		{421, dialer.Retry, dialer.FaultRoute, dialer.CauseSMTPTempFailure, false},
		{450, dialer.Retry, dialer.FaultRoute, dialer.CauseSMTPTempFailure, false},
		{451, dialer.Retry, dialer.FaultRoute, dialer.CauseSMTPTempFailure, false},
		{452, dialer.Retry, dialer.FaultRoute, dialer.CauseSMTPTempFailure, false},
		{454, dialer.Retry, dialer.FaultRoute, dialer.CauseAuthFailed, false},
		{530, dialer.Retry, dialer.FaultRoute, dialer.CauseAuthFailed, false},
		{535, dialer.Retry, dialer.FaultRoute, dialer.CauseAuthFailed, false},
		{550, dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, false},
		{552, dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, false},
		{553, dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, false},
		{554, dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, false},
	}
	for _, tt := range tests {
		out := SMTPOutcome(tt.code, "text\r\nX-Injected: 1", now, now)
		v := dialer.Classify(out)
		if v.Disposition != tt.disp || v.Fault != tt.fault || v.Cause != tt.cause || v.Invalid != tt.invalid {
			t.Errorf("%d: verdict %+v, want %v %v %s", tt.code, v, tt.disp, tt.fault, tt.cause)
		}
		if r := out.Results[0]; r.Type != "smtp" || r.Name != "reply" || strings.ContainsAny(r.Data, "\r\n") ||
			!strings.HasPrefix(r.Data, strings.TrimSpace(strings.Fields(r.Data)[0])) {
			t.Errorf("%d: result %+v", tt.code, r)
		}
	}
}

func route(p *mailtest.SMTPPeer) dialer.Route {
	return dialer.Route{ProviderID: 7, Name: "mail", Host: "127.0.0.1", Port: p.Port, TLS: TLSNone,
		Sender: "dialer@example.com", Gateway: dialer.GatewaySendmail}
}

func emailAttempt(r dialer.Route, to string) dialer.Attempt {
	return dialer.Attempt{SpoolID: 1, CallUUID: "4b1c4a3e-0000-4000-8000-000000000001", Program: dialer.ProgramSendEmail,
		Email: to, Provider: r,
		Contact: dialer.ContactFields{FirstName: "Ada", LastName: "<b>Lovelace</b>", Email: to, Custom1: "gold"},
		Media: dialer.Media{Subject: "Hello {first_name}, your {custom1} plan", Body: "<p>Dear {first_name} {last_name}</p>",
			BodyAlt: "Dear {first_name} {last_name}, {unknown} stays"}}
}

// parts reads a received message: its headers and each MIME part by
// content type (attachments by file name).
func parts(t *testing.T, eml []byte) (*netmail.Message, map[string]string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(eml))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(h map[string][]string, body io.Reader)
	walk = func(h map[string][]string, body io.Reader) {
		ct := netmail.Header(h).Get("Content-Type")
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					return
				}
				walk(p.Header, p) // multipart decodes quoted-printable itself
			}
		}
		b, _ := io.ReadAll(body)
		if strings.EqualFold(netmail.Header(h).Get("Content-Transfer-Encoding"), "base64") {
			b = decodeBase64(t, b)
		}
		key := mt
		if _, p, err := mime.ParseMediaType(netmail.Header(h).Get("Content-Disposition")); err == nil && p["filename"] != "" {
			key = p["filename"]
		}
		out[key] = string(b)
	}
	walk(msg.Header, msg.Body)
	return msg, out
}

func TestSendEmailToAiosmtpd(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	dir := t.TempDir()
	attach := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(attach, []byte("%PDF-1.4 not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := NewOut(OutConfig{Timeout: 10 * time.Second, HELO: "dialerd.test"})
	a := emailAttempt(route(peer), "ada@example.org")
	a.Media.AttachmentPath, a.Media.AttachmentType = attach, "pdf"
	if err := out.CheckAttempt(a); err != nil {
		t.Fatal(err)
	}
	o, err := out.Deliver(context.Background(), a, func(dialer.Progress) {})
	if err != nil {
		t.Fatal(err)
	}
	if v := dialer.Classify(o); v.Disposition != dialer.Completed {
		t.Fatalf("verdict %+v, outcome %+v", v, o)
	}
	if o.Results[0].Data != "250 2.0.0 Ok: queued as Q1" {
		t.Errorf("reply result %+v", o.Results)
	}
	eml, env := peer.Received(t, 1)
	if env != "dialer@example.com\nada@example.org\n" {
		t.Errorf("envelope %q", env)
	}
	msg, ps := parts(t, eml)
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	if subject != "Hello Ada, your gold plan" {
		t.Errorf("subject %q", subject)
	}
	if got := ps["text/html"]; !strings.Contains(got, "Dear Ada &lt;b&gt;Lovelace&lt;/b&gt;") {
		t.Errorf("html part %q", got)
	}
	if got := ps["text/plain"]; !strings.Contains(got, "Dear Ada <b>Lovelace</b>, {unknown} stays") {
		t.Errorf("text part %q", got)
	}
	if got := ps["attachment.pdf"]; got != "%PDF-1.4 not really" {
		t.Errorf("attachment %q (parts %v)", got, keys(ps))
	}
}

// faxtoemail: the received fax's PDF goes out as fax.pdf.
func TestFaxToEmailToAiosmtpd(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	attach := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(attach, []byte("%PDF-1.4 a received fax"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := emailAttempt(route(peer), "office@example.org")
	a.Program = dialer.ProgramFaxToEmail
	a.Media = dialer.Media{Subject: "Fax from {phone}", BodyAlt: "A fax arrived.", AttachmentPath: attach, AttachmentType: "pdf"}
	a.Contact.Phone = "+14155550123"
	o, err := NewOut(OutConfig{Timeout: 10 * time.Second}).Deliver(context.Background(), a, func(dialer.Progress) {})
	if err != nil || !o.Delivered {
		t.Fatalf("outcome %+v err %v", o, err)
	}
	eml, _ := peer.Received(t, 1)
	msg, ps := parts(t, eml)
	if msg.Header.Get("Subject") != "Fax from +14155550123" || ps["fax.pdf"] != "%PDF-1.4 a received fax" {
		t.Errorf("subject %q parts %v", msg.Header.Get("Subject"), keys(ps))
	}
}

func TestSendEmailSTARTTLS(t *testing.T) {
	peer := mailtest.StartSMTP(t, true)
	r := route(peer)
	r.TLS = TLSStartTLS
	out := NewOut(OutConfig{Timeout: 10 * time.Second, TLS: peer.TLSConfig()})
	o, err := out.Deliver(context.Background(), emailAttempt(r, "ada@example.org"), func(dialer.Progress) {})
	if err != nil || !o.Delivered {
		t.Fatalf("outcome %+v, err %v", o, err)
	}
	// A server whose certificate is not trusted is the route's fault.
	out = NewOut(OutConfig{Timeout: 10 * time.Second})
	_, err = out.Deliver(context.Background(), emailAttempt(r, "ada@example.org"), func(dialer.Progress) {})
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

func TestSendEmailImplicitTLS(t *testing.T) {
	peer := mailtest.StartSMTPMode(t, "implicit")
	r := route(peer)
	r.TLS = TLSImplicit
	out := NewOut(OutConfig{Timeout: 10 * time.Second, TLS: peer.TLSConfig()})
	o, err := out.Deliver(context.Background(), emailAttempt(r, "ada@example.org"), func(dialer.Progress) {})
	if err != nil || !o.Delivered {
		t.Fatalf("outcome %+v, err %v", o, err)
	}
	// The same server asked for STARTTLS speaks TLS at once: no SMTP reply.
	r.TLS = TLSStartTLS
	out = NewOut(OutConfig{Timeout: 2 * time.Second, TLS: peer.TLSConfig()})
	if _, err := out.Deliver(context.Background(), emailAttempt(r, "ada@example.org"), func(dialer.Progress) {}); dialer.FaultOf(err).Fault != dialer.FaultRoute {
		t.Fatalf("STARTTLS to an SMTPS port: %v", err)
	}
}

func TestSendEmailRecoverIsGone(t *testing.T) {
	if _, err := NewOut(OutConfig{}).Recover(context.Background(), dialer.RecoverSpool{}, nil); !errors.Is(err, dialer.ErrCallGone) {
		t.Fatal(err)
	}
}

func TestSendEmailPeerReplies(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	out := NewOut(OutConfig{Timeout: 10 * time.Second})
	tests := []struct {
		to    string
		disp  dialer.Disposition
		fault dialer.Fault
		cause string
		reply string
	}{
		{"temp@example.org", dialer.Retry, dialer.FaultRoute, dialer.CauseSMTPTempFailure, "451 4.3.0 mailbox busy, try later"},
		{"reject@example.org", dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, "550 5.1.1 no such user here"},
		{"bigdata@example.org", dialer.Final, dialer.FaultCallee, dialer.CauseSMTPRejected, "552 5.3.4 message too big for this mailbox"},
	}
	for _, tt := range tests {
		o, err := out.Deliver(context.Background(), emailAttempt(route(peer), tt.to), func(dialer.Progress) {})
		if err != nil {
			t.Fatalf("%s: %v", tt.to, err)
		}
		v := dialer.Classify(o)
		if v.Disposition != tt.disp || v.Fault != tt.fault || v.Cause != tt.cause {
			t.Errorf("%s: verdict %+v", tt.to, v)
		}
		if len(o.Results) == 0 || o.Results[0].Data != tt.reply {
			t.Errorf("%s: results %+v, want reply %q", tt.to, o.Results, tt.reply)
		}
	}
	if n := peer.Count(); n != 0 {
		t.Errorf("the peer accepted %d messages", n)
	}
}

func TestSendEmailServerDown(t *testing.T) {
	r := dialer.Route{Host: "127.0.0.1", Port: mailtest.FreePort(t), TLS: TLSNone, Sender: "d@example.com", Gateway: dialer.GatewaySendmail}
	_, err := NewOut(OutConfig{Timeout: 5 * time.Second}).Deliver(context.Background(), emailAttempt(r, "a@example.org"), func(dialer.Progress) {})
	v := dialer.ClassifyError(err)
	if v.Fault != dialer.FaultRoute || v.Disposition != dialer.Retry {
		t.Fatalf("verdict %+v (%v)", v, err)
	}
}

// Nothing from a contact or a template may add a header or an SMTP
// command: CR/LF in the subject's placeholders is flattened, in the
// recipient or the sender refused before anything is sent.
func TestSendEmailNoInjection(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	out := NewOut(OutConfig{Timeout: 10 * time.Second})

	a := emailAttempt(route(peer), "ada@example.org")
	a.Contact.FirstName = "Ada\r\nBcc: evil@example.net"
	a.Contact.Custom1 = "x\nRCPT TO:<evil@example.net>"
	o, err := out.Deliver(context.Background(), a, func(dialer.Progress) {})
	if err != nil || !o.Delivered {
		t.Fatalf("outcome %+v err %v", o, err)
	}
	eml, env := peer.Received(t, 1)
	if env != "dialer@example.com\nada@example.org\n" {
		t.Errorf("envelope %q: a placeholder added a recipient", env)
	}
	msg, _ := parts(t, eml)
	if msg.Header.Get("Bcc") != "" {
		t.Errorf("a placeholder added a Bcc header: %q", msg.Header.Get("Bcc"))
	}
	for k := range msg.Header {
		if strings.EqualFold(k, "RCPT TO") || strings.HasPrefix(k, "Rcpt") {
			t.Errorf("header %q injected", k)
		}
	}

	for _, to := range []string{"ada@example.org\r\nRCPT TO:<evil@example.net>", "ada@example.org>\r\nDATA", "Ada <ada@example.org>", "a@b@c", "ada@example.org, evil@example.net"} {
		o, err := out.Deliver(context.Background(), emailAttempt(route(peer), to), func(dialer.Progress) {})
		if err != nil {
			t.Fatalf("%q: %v", to, err)
		}
		if v := dialer.Classify(o); !v.Invalid || v.Disposition != dialer.Final {
			t.Errorf("%q: verdict %+v", to, v)
		}
	}
	r := route(peer)
	r.Sender = "dialer@example.com\r\nBcc: evil@example.net"
	if err := out.CheckAttempt(emailAttempt(r, "ada@example.org")); dialer.FaultOf(err).Field != "settings" {
		t.Errorf("sender with CR/LF: %v", err)
	}
	a = emailAttempt(route(peer), "ada@example.org")
	a.Media.Subject = "Hi\r\nBcc: evil@example.net"
	if err := out.CheckAttempt(a); dialer.FaultOf(err).Field != "subject" {
		t.Errorf("subject with CR/LF: %v", err)
	}
	if n := peer.Count(); n != 1 {
		t.Errorf("the peer accepted %d messages, want 1", n)
	}
}

func TestCheckRoute(t *testing.T) {
	ok := dialer.Route{Host: "smtp.example.com", Port: 587, TLS: "starttls", Sender: "d@example.com"}
	tests := []struct {
		name  string
		edit  func(*dialer.Route)
		field string
	}{
		{"ok", func(*dialer.Route) {}, ""},
		{"default tls", func(r *dialer.Route) { r.TLS = "" }, ""},
		{"no host", func(r *dialer.Route) { r.Host = "" }, "host"},
		{"host CRLF", func(r *dialer.Route) { r.Host = "a\r\nb" }, "host"},
		{"bad port", func(r *dialer.Route) { r.Port = 70000 }, "port"},
		{"bad tls", func(r *dialer.Route) { r.TLS = "ssl3" }, "settings"},
		{"no sender", func(r *dialer.Route) { r.Sender = "" }, "settings"},
		{"bad sender", func(r *dialer.Route) { r.Sender = "nobody" }, "settings"},
		{"user CRLF", func(r *dialer.Route) { r.Username = "u\r\nAUTH" }, "username"},
	}
	for _, tt := range tests {
		r := ok
		tt.edit(&r)
		err := CheckRoute(r)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		fe := dialer.FaultOf(err)
		if fe == nil || fe.Fault != dialer.FaultContent || fe.Field != tt.field {
			t.Errorf("%s: %v, want a content fault on %s", tt.name, err, tt.field)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var errNoBase64 = errors.New("bad base64")
