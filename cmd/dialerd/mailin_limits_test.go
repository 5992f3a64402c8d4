package main

import (
	"fmt"
	"net/smtp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dialerd/dialerd/mail/mailtest"
)

// TestReceiveEmailLimitsConfigured: dialerd started with lowered
// mail.in.* keys applies them to a receiveemail message exactly as the
// defaults are applied: one attachment kept as a document and the others
// listed as not stored, the header block cut at 1024 bytes, the text cut
// at 1024 bytes and marked [truncated]. Before, the keys did not exist and
// the daemon refused to start with them.
func TestReceiveEmailLimitsConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	smtpPort := strconv.Itoa(mailtest.FreePort(t))
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_MAIL_LISTEN=127.0.0.1:"+smtpPort,
		"DIALERD_MAIL_IN_MAX_DOCUMENTS=1", "DIALERD_MAIL_IN_MAX_HEADER_BYTES=1024", "DIALERD_MAIL_IN_MAX_TEXT_BYTES=1024")
	a := login(t, p, "admin-password-1")
	inbox := a.id("POST", "/accounts", map[string]any{"type": "email", "email": "inbox@example.com", "first_name": "Inbox"}, "account_id")
	a.id("POST", "/programs/receiveemail", map[string]any{"name": "inbox", "account_id": inbox}, "program_id")

	var b strings.Builder
	b.WriteString("From: bob@example.org\r\nTo: inbox@example.com\r\nSubject: limits\r\nMIME-Version: 1.0\r\n")
	for i := range 20 {
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 100)) // 2 KiB of headers
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n")
	for range 30 {
		b.WriteString(strings.Repeat("x", 98) + "\r\n") // 3000 bytes of text
	}
	for i := range 3 {
		fmt.Fprintf(&b, "--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"n%d.txt\"\r\n\r\nnote %d\r\n", i, i)
	}
	b.WriteString("--XX--\r\n")
	if err := smtp.SendMail("127.0.0.1:"+smtpPort, nil, "bob@example.org", []string{"inbox@example.com"}, []byte(b.String())); err != nil {
		t.Fatalf("receiveemail: %v", err)
	}
	var in []map[string]any
	a.get("/transmissions?direction=inbound", &in)
	if len(in) != 1 || in[0]["status"] != "completed" {
		t.Fatalf("inbound transmissions %v", in)
	}
	var res []map[string]any
	a.get(fmt.Sprintf("/transmissions/%v/result", in[0]["transmission_id"]), &res)
	var docs, listed []string
	got := map[string]string{}
	for _, r := range res {
		typ, name, data := fmt.Sprint(r["type"]), fmt.Sprint(r["name"]), fmt.Sprint(r["data"])
		switch {
		case typ == "document":
			docs = append(docs, name)
		case name == "attachment":
			listed = append(listed, data)
		default:
			got[typ+"/"+name] = data
		}
	}
	if len(docs) != 1 || docs[0] != "n0.txt" || len(listed) != 2 || !strings.Contains(listed[1], "n2.txt") ||
		!strings.Contains(listed[1], "not stored: more than 1 attachments") {
		t.Errorf("documents %v, listed %q", docs, listed)
	}
	if h := got["email/headers"]; len(h) != 1024 || !strings.HasPrefix(h, "From: bob@example.org") {
		t.Errorf("headers of %d bytes: %.60q", len(h), h)
	}
	if txt := got["email/text"]; len(txt) != 1024+len("\n[truncated]") || !strings.HasSuffix(txt, "\n[truncated]") {
		t.Errorf("text of %d bytes: ...%q", len(txt), txt[max(0, len(txt)-20):])
	}
	p.stop(t, syscall.SIGTERM)
}
