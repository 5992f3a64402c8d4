package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/mail/mailtest"
)

// client is a logged-in client of a test daemon.
type client struct {
	t     *testing.T
	p     *daemonProc
	token string
}

func login(t *testing.T, p *daemonProc, password string) *client {
	t.Helper()
	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": password})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var tok struct{ Token string }
	json.Unmarshal(body, &tok)
	return &client{t: t, p: p, token: tok.Token}
}

// id creates something and returns the id in field.
func (a *client) id(method, path string, req any, field string) int64 {
	a.t.Helper()
	code, body := a.p.call(a.t, method, path, a.token, req)
	var out map[string]any
	json.Unmarshal(body, &out)
	id, ok := out[field].(float64)
	if code != 200 || !ok {
		a.t.Fatalf("%s %s: %d %s", method, path, code, body)
	}
	return int64(id)
}

func (a *client) get(path string, out any) {
	a.t.Helper()
	code, body := a.p.call(a.t, "GET", path, a.token, nil)
	if code != 200 || json.Unmarshal(body, out) != nil {
		a.t.Fatalf("GET %s: %d %s", path, code, body)
	}
}

// refused checks that a write is a 412 naming field.
func (a *client) refused(method, path string, req any, field string) {
	a.t.Helper()
	code, body := a.p.call(a.t, method, path, a.token, req)
	if code != 412 || !strings.Contains(string(body), `"`+field+`"`) {
		a.t.Errorf("%s %s: %d %s, want 412 naming %s", method, path, code, body, field)
	}
}

// sendOne creates a transmission of program to contact, sends it and waits
// until it is no longer pending or processing: its status, and its spools
// and results as JSON.
func (a *client) sendOne(contact, program int64) (string, string) {
	a.t.Helper()
	id := a.id("POST", "/transmissions", map[string]any{"contact_id": contact, "program_id": program, "direction": "outbound", "try_allowed": 1}, "transmission_id")
	path := "/transmissions/" + strconv.FormatInt(id, 10)
	if code, body := a.p.call(a.t, "POST", path+"/send", a.token, nil); code != 200 {
		a.t.Fatalf("send: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var tr map[string]any
		a.get(path, &tr)
		st, _ := tr["status"].(string)
		if st != "pending" && st != "processing" {
			// The spools (with their response, the cause) and the results.
			_, spools := a.p.call(a.t, "GET", path+"/detail", a.token, nil)
			_, body := a.p.call(a.t, "GET", path+"/result", a.token, nil)
			return st, string(spools) + " " + string(body)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("transmission %d still %s", id, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testPDF is a one-page PDF made by Ghostscript.
func testPDF(t *testing.T) []byte {
	t.Helper()
	gs, err := exec.LookPath("gs")
	if err != nil {
		mailtest.SkipOrFail(t, "ghostscript is not installed")
	}
	out := filepath.Join(t.TempDir(), "p.pdf")
	if b, err := exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-sOutputFile="+out, "-c", "showpage").CombinedOutput(); err != nil {
		t.Fatalf("gs: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mailWithPDF(from, to, subject string, pdf []byte) string {
	enc := base64.StdEncoding.EncodeToString(pdf)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--XX--\r\n"
}

// TestEmailProgramsE2E drives the daemon through its API: sendemail to
// Debian's aiosmtpd (delivered, 4xx, 5xx), receiveemail and emailtofax
// through its SMTP listener with Go's SMTP client.
func TestEmailProgramsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and aiosmtpd")
	}
	peer := mailtest.StartSMTP(t, false)
	pdf := testPDF(t)
	smtpPort := mailtest.FreePort(t)
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1",
		"DIALERD_MAIL_LISTEN=127.0.0.1:"+strconv.Itoa(smtpPort), "DIALERD_MAIL_FAX_DOMAIN=fax.test",
		"DIALERD_MAIL_RELAY_HOSTS=127.0.0.1")
	a := login(t, p, "admin-password-1")

	// The provider is checked by the email gateway when it is written.
	provider := map[string]any{"name": "mail", "gateway_flag": 4, "service_flag": 8, "host": "127.0.0.1", "port": peer.Port,
		"settings": `{"tls": "none", "from": "dialer@example.com"}`}
	bad := map[string]any{}
	for k, v := range provider {
		bad[k] = v
	}
	bad["settings"] = `{"tls": "none", "from": "dialer@example.com\r\nBcc: evil@example.net"}`
	a.refused("POST", "/providers", bad, "settings")
	bad["settings"] = `{"tls": "ssl3", "from": "dialer@example.com"}`
	a.refused("POST", "/providers", bad, "settings")
	a.id("POST", "/providers", provider, "provider_id")

	// A subject with a line break cannot go out as a header: refused when
	// the program is written (the gateway's own check), or with the template.
	code, body := p.call(t, "POST", "/messages/templates", a.token, map[string]any{"name": "bad",
		"subject": "Hi\r\nBcc: evil@example.net", "body": "<p>x</p>"})
	if code == 200 {
		var tb map[string]any
		json.Unmarshal(body, &tb)
		a.refused("POST", "/programs/sendemail", map[string]any{"name": "bad", "template_id": tb["template_id"]}, "template_id")
	} else if code != 412 {
		t.Errorf("template with CR/LF in its subject: %d %s", code, body)
	}
	tpl := a.id("POST", "/messages/templates", map[string]any{"name": "hello", "subject": "Hello {first_name}",
		"body": "<p>Dear {first_name}</p>", "body_alt": "Dear {first_name}"}, "template_id")
	prog := a.id("POST", "/programs/sendemail", map[string]any{"name": "hello", "template_id": tpl}, "program_id")
	contact := func(name, phone, email string) int64 {
		return a.id("POST", "/contacts", map[string]any{"first_name": name, "phone": phone, "email": email}, "contact_id")
	}
	tests := []struct {
		email, status, result, cause string
	}{
		{"ada@example.org", "completed", "250 2.0.0 Ok: queued as Q1", "NORMAL_CLEARING"},
		// 4xx: the route's fault; with one try allowed the transmission fails.
		{"temp@example.org", "failed", "451 4.3.0 mailbox busy, try later", "SMTP_TEMPORARY_FAILURE"},
		{"reject@example.org", "failed", "550 5.1.1 no such user here", "SMTP_REJECTED"},
	}
	for i, tt := range tests {
		st, res := a.sendOne(contact("Ada", fmt.Sprintf("+1415555%04d", 100+i), tt.email), prog)
		if st != tt.status || !strings.Contains(res, tt.result) || !strings.Contains(res, `"response":"`+tt.cause+`"`) {
			t.Errorf("%s: %s %s, want %s with %q and %s", tt.email, st, res, tt.status, tt.result, tt.cause)
		}
	}
	eml, _ := peer.Received(t, 1)
	if !strings.Contains(string(eml), "Subject: Hello Ada") {
		t.Errorf("the mail sent:\n%s", eml)
	}

	// receiveemail: an email account with the program.
	inbox := a.id("POST", "/accounts", map[string]any{"type": "email", "email": "inbox@example.com", "first_name": "Inbox"}, "account_id")
	a.id("POST", "/programs/receiveemail", map[string]any{"name": "inbox", "account_id": inbox}, "program_id")
	addr := "127.0.0.1:" + strconv.Itoa(smtpPort)
	if err := smtp.SendMail(addr, nil, "bob@example.org", []string{"inbox@example.com"},
		[]byte(mailWithPDF("bob@example.org", "inbox@example.com", "Quarterly report", pdf))); err != nil {
		t.Fatalf("receiveemail: %v", err)
	}
	if err := smtp.SendMail(addr, nil, "bob@example.org", []string{"nobody@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Error("mail to an unknown address was accepted")
	}
	var in []map[string]any
	a.get("/transmissions?direction=inbound", &in)
	if len(in) != 1 || in[0]["status"] != "completed" {
		t.Fatalf("inbound transmissions %v", in)
	}
	var res []map[string]any
	a.get("/transmissions/"+strconv.FormatInt(int64(in[0]["transmission_id"].(float64)), 10)+"/result", &res)
	got := map[string]string{}
	for _, r := range res {
		got[r["type"].(string)+"/"+r["name"].(string)] = fmt.Sprint(r["data"])
	}
	if got["email/subject"] != "Quarterly report" || got["email/from"] != "bob@example.org" || !strings.Contains(got["email/text"], "see attached") ||
		got["document/scan.pdf"] == "" {
		t.Errorf("receiveemail results %v", got)
	}
	var docs []map[string]any
	a.get("/messages/documents", &docs)
	if len(docs) != 1 || docs[0]["name"] != "scan.pdf" || docs[0]["type"] != "pdf" {
		t.Errorf("documents %v", docs)
	}
	// Any other attachment is kept too, as it came: a "bin" document,
	// served as bytes.
	notes := "From: bob@example.org\r\nTo: inbox@example.com\r\nSubject: notes\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n" +
		"--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nremember the milk\r\n--XX--\r\n"
	if err := smtp.SendMail(addr, nil, "bob@example.org", []string{"inbox@example.com"}, []byte(notes)); err != nil {
		t.Fatalf("receiveemail with a text attachment: %v", err)
	}
	docs = nil
	a.get("/messages/documents", &docs)
	if len(docs) != 2 || docs[1]["name"] != "notes.txt" || docs[1]["type"] != "bin" {
		t.Fatalf("documents %v", docs)
	}
	dpath := "/messages/documents/" + fmt.Sprint(docs[1]["document_id"]) + "/media"
	if code, body := p.call(t, "GET", dpath, a.token, nil); code != 200 || !strings.Contains(string(body), "remember the milk") {
		t.Errorf("GET %s: %d %q", dpath, code, body)
	}
	// It is no fax document: a sendfax of it is refused when written.
	a.refused("POST", "/programs/sendfax", map[string]any{"name": "notes", "document_id": docs[1]["document_id"]}, "document_id")

	// emailtofax: mail to <number>@fax.test from an email account with an
	// emailtofax program, from an allowed relay host.
	faxer := a.id("POST", "/accounts", map[string]any{"type": "email", "email": "faxer@example.com", "first_name": "Fax"}, "account_id")
	a.id("POST", "/programs/emailtofax", map[string]any{"name": "fax", "account_id": faxer}, "program_id")
	if err := smtp.SendMail(addr, nil, "faxer@example.com", []string{"14155550177@fax.test"},
		[]byte(mailWithPDF("faxer@example.com", "14155550177@fax.test", "fax", pdf))); err != nil {
		t.Fatalf("emailtofax: %v", err)
	}
	if err := smtp.SendMail(addr, nil, "faxer@example.com", []string{"14155550177@fax.test"}, []byte("Subject: no doc\r\n\r\nx\r\n")); err == nil {
		t.Error("a fax without a document was accepted")
	}
	var out []map[string]any
	a.get("/transmissions?direction=outbound&origin=smtp", &out)
	if len(out) != 1 || fmt.Sprint(out[0]["service_flag"]) != "2" {
		t.Fatalf("outbound fax transmissions %v", out)
	}
	var progs []map[string]any
	a.get("/programs?type=sendfax", &progs)
	if len(progs) != 1 || progs[0]["document_id"] == nil {
		t.Errorf("sendfax programs %v", progs)
	}
	p.stop(t, syscall.SIGTERM)
}
