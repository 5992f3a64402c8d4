package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/mail"
	"github.com/dialerd/dialerd/mail/mailtest"
)

// TestFaxToEmailE2E: the daemon, connected to a fake FreeSWITCH node,
// receives fax calls to DIDs whose accounts (made through the API) have
// faxtoemail programs, and mails each PDF through the tenant's email
// provider to Debian's aiosmtpd. The inbound transmission ends as the SMTP
// reply says by the cause table: 250 completed with the reply in its
// results (and the peer got the PDF), 451 (the route's fault) processing,
// deferred to a next try, 550 failed SMTP_REJECTED; the fax is kept as a
// document either way.
func TestFaxToEmailE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and aiosmtpd")
	}
	needTIFF2PDF(t)
	peer := mailtest.StartSMTP(t, false)
	fs := esltest.Start(t, esltest.Options{Password: "Node-Pass-1"})
	data, _ := dataWithNode(t, fs)

	d := startDaemon(t, data)
	a := login(t, d, "admin-password-1")
	a.id("POST", "/providers", map[string]any{"name": "mail", "gateway_flag": 4, "service_flag": 8, "host": "127.0.0.1",
		"port": peer.Port, "username": "", "settings": `{"tls": "none", "from": "fax@example.com"}`}, "provider_id")
	for i, email := range []string{"ops@example.org", "temp@example.org", "reject@example.org"} {
		acct := a.id("POST", "/accounts", map[string]any{"type": "did", "phone": fmt.Sprintf("+1555010010%d", i), "email": email}, "account_id")
		a.id("POST", "/programs/faxtoemail", map[string]any{"name": "to " + email, "account_id": acct}, "program_id")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sawCommand(fs, "event") {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not connect:\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// settled waits for the n-th inbound transmission to have its first
	// try's outcome: the SMTP reply is written with it.
	settled := func(n int) (map[string]any, map[string]string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			var list []map[string]any
			a.get("/transmissions?direction=inbound", &list)
			if len(list) >= n {
				tx := list[n-1]
				_, body := d.call(t, "GET", fmt.Sprintf("/transmissions/%d/result", int64(tx["transmission_id"].(float64))), a.token, nil)
				var rs []struct{ Type, Name, Data string }
				json.Unmarshal(body, &rs)
				r := map[string]string{}
				for _, x := range rs {
					r[x.Type+"."+x.Name] = x.Data
				}
				if r["smtp.reply"] != "" {
					// The mail's outcome and results land in one
					// transaction: read the status again after them.
					a.get("/transmissions?direction=inbound", &list)
					return list[n-1], r
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("inbound transmission %d not mailed:\n%s", n, d.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	tests := []struct {
		did, status, cause, reply string
	}{
		{"15550100100", "completed", "NORMAL_CLEARING", "250 2.0.0 Ok: queued as Q1"},
		{"15550100101", "processing", "mail deferred: 451 4.3.0 mailbox busy, try later; next try at ", "451 4.3.0 mailbox busy, try later"},
		{"15550100102", "failed", dialer.CauseSMTPRejected, "550 5.1.1 no such user here"},
	}
	for i, tt := range tests {
		fs.Inbound(esltest.InboundCall{Destination: tt.did, CallerID: "15550001111",
			Fax: esltest.InboundFax{Success: true, TIFF: bilevelTIFF(), Pages: 1}})
		tx, r := settled(i + 1)
		if tx["status"] != tt.status || !strings.HasPrefix(fmt.Sprint(tx["response"]), tt.cause) || r["smtp.reply"] != tt.reply || r["fax.document_id"] == "" {
			t.Errorf("fax to %s: %v %v, want %s %s %q", tt.did, tx, r, tt.status, tt.cause, tt.reply)
		}
	}
	eml, env := peer.Received(t, 1)
	for _, want := range []string{"Subject: Fax from 15550001111 (1 page)", `filename="fax.pdf"`, "application/pdf"} {
		if !strings.Contains(string(eml), want) {
			t.Errorf("the mail lacks %q:\n%s", want, eml)
		}
	}
	if !strings.HasPrefix(env, "fax@example.com\nops@example.org") {
		t.Errorf("envelope %q", env)
	}
	if n := peer.Count(); n != 1 {
		t.Errorf("the peer kept %d mails, want 1", n)
	}
	d.stop(t, syscall.SIGTERM)
}

type fakeRoutes struct {
	routes []dialer.Route
	err    error
}

func (f fakeRoutes) EmailRoutes(context.Context, string) ([]dialer.Route, error) {
	return f.routes, f.err
}

// fakeOut answers each provider by its host: "temp…" a 451, "down…" no
// answer, "reject…" a 550, anything else 250.
type fakeOut struct{ got []dialer.Attempt }

func (f *fakeOut) Deliver(_ context.Context, a dialer.Attempt, _ func(dialer.Progress)) (dialer.Outcome, error) {
	f.got = append(f.got, a)
	now := time.Now()
	switch {
	case strings.HasPrefix(a.Provider.Host, "temp"):
		return mail.SMTPOutcome(451, "4.3.0 try later", now, now), nil
	case strings.HasPrefix(a.Provider.Host, "down"):
		return dialer.Outcome{}, dialer.RouteFault(dialer.CauseGatewayError, errors.New("connection refused"))
	case strings.HasPrefix(a.Provider.Host, "reject"):
		return mail.SMTPOutcome(550, "5.1.1 no such user", now, now), nil
	}
	return mail.SMTPOutcome(250, "2.0.0 Ok: queued", now, now), nil
}

// TestSMTPFaxMailer: the mail of a fax goes through the tenant's email
// provider as a faxtoemail attempt with the PDF attached; the caller's
// number reaches the subject only as digits (a trunk's caller ID is not
// trusted with a header); a route's fault (4xx, no answer) moves it to
// the next provider, a recipient's (5xx) does not; a tenant with no email
// provider is the configuration's fault (CONTENT_ERROR), not a route's.
func TestSMTPFaxMailer(t *testing.T) {
	route := func(id int64, host string) dialer.Route {
		return dialer.Route{ProviderID: id, Host: host, Sender: "fax@example.com", Gateway: dialer.GatewaySendmail}
	}
	one := fakeRoutes{routes: []dialer.Route{route(7, "127.0.0.1")}}
	tests := []struct {
		name, from string
		routes     fakeRoutes
		subject    string
		wantCause  string
		attempts   int
	}{
		{"delivered", "+15550001111", one, "Fax from +15550001111 (2 pages)", "NORMAL_CLEARING", 1},
		{"caller id with a header", "1555\r\nBcc: evil@example.net", one, "Fax from 1555 (2 pages)", "NORMAL_CLEARING", 1},
		{"withheld", "", one, "Fax from anonymous (2 pages)", "NORMAL_CLEARING", 1},
		{"no email provider", "1555", fakeRoutes{err: dialer.NotFound("email provider")}, "", dialer.CauseContentError, 0},
		{"4xx and down: the next provider", "1555", fakeRoutes{routes: []dialer.Route{route(1, "temp"), route(2, "down"), route(7, "ok")}},
			"Fax from 1555 (2 pages)", "NORMAL_CLEARING", 3},
		{"4xx on every provider", "1555", fakeRoutes{routes: []dialer.Route{route(1, "temp"), route(7, "temp2")}},
			"Fax from 1555 (2 pages)", dialer.CauseSMTPTempFailure, 2},
		{"5xx is final", "1555", fakeRoutes{routes: []dialer.Route{route(7, "reject"), route(8, "ok")}},
			"Fax from 1555 (2 pages)", dialer.CauseSMTPRejected, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &fakeOut{}
			m := &smtpFaxMailer{routes: tt.routes, out: out}
			o, err := m.MailFax(context.Background(), FaxMail{TenantID: "t", To: "ops@example.org", PDFPath: "/x/fax.pdf",
				From: tt.from, DID: "+15550100100", Pages: 2, CallUUID: "u"})
			v := dialer.Classify(o)
			if err != nil {
				v = dialer.ClassifyError(err)
			}
			if v.Cause != tt.wantCause {
				t.Errorf("cause %s (%v), want %s", v.Cause, err, tt.wantCause)
			}
			if len(out.got) != tt.attempts {
				t.Fatalf("%d attempts, want %d", len(out.got), tt.attempts)
			}
			if tt.attempts == 0 {
				return
			}
			a := out.got[len(out.got)-1]
			if a.Program != dialer.ProgramFaxToEmail || a.Email != "ops@example.org" || a.Provider.ProviderID != 7 ||
				a.Media.AttachmentPath != "/x/fax.pdf" || a.Media.AttachmentType != "pdf" || a.Media.Subject != tt.subject {
				t.Errorf("attempt %+v", a)
			}
		})
	}
}
