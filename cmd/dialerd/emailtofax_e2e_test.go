package main

import (
	"encoding/json"
	"fmt"
	"net/smtp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/mail/mailtest"
)

// TestEmailToFaxSentThroughFreeSwitch follows an emailtofax past its
// creation: mail with a PDF to <number>@fax.test through the daemon's SMTP
// listener becomes an outbound fax that the daemon sends through the fake
// FreeSWITCH (txfax of the TIFF Ghostscript made), completed when the far
// machine took it; one the far machine fails (spandsp's result 35) is
// tried the three times an emailtofax allows and ends FAX_FAILED, the
// callee's fault by the cause table. Before, nothing tested that the
// transmission an email made was ever sent.
func TestEmailToFaxSentThroughFreeSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	pdf := testPDF(t) // skips without Ghostscript
	fs := esltest.Start(t, esltest.Options{Password: "Node-Pass-1"})
	const ok, failing = "14155550181", "14155550182"
	fs.Script(ok, esltest.Answer(10*time.Millisecond, 100*time.Millisecond))
	fs.Script(failing, esltest.Answer(10*time.Millisecond, 100*time.Millisecond).WithFaxFailure(35, "Unexpected DCN while waiting for DCS or DIS"))

	data, node := dataWithNode(t, fs)

	smtpPort := mailtest.FreePort(t)
	d := startDaemon(t, data, "DIALERD_MAIL_LISTEN=127.0.0.1:"+strconv.Itoa(smtpPort), "DIALERD_MAIL_FAX_DOMAIN=fax.test",
		"DIALERD_MAIL_RELAY_HOSTS=127.0.0.1", "DIALERD_ENGINE_RETRY_DELAY=1s")
	a := login(t, d, "admin-password-1")
	deadline := time.Now().Add(10 * time.Second)
	for !sawCommand(fs, "event") {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not connect:\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The faxes present no caller id (the email account has no DID).
	a.id("POST", "/providers", map[string]any{"name": "fax-trunk", "host": "sip.example.com", "service_flag": dialer.ServiceFax,
		"node_id": node, "settings": `{"allow_anonymous": true}`}, "provider_id")
	faxer := a.id("POST", "/accounts", map[string]any{"type": "email", "email": "faxer@example.com", "first_name": "Fax"}, "account_id")
	a.id("POST", "/programs/emailtofax", map[string]any{"name": "fax", "account_id": faxer}, "program_id")

	addr := "127.0.0.1:" + strconv.Itoa(smtpPort)
	for _, n := range []string{ok, failing} {
		rcpt := n + "@fax.test"
		if err := smtp.SendMail(addr, nil, "faxer@example.com", []string{rcpt}, []byte(mailWithPDF("faxer@example.com", rcpt, "fax", pdf))); err != nil {
			t.Fatalf("emailtofax to %s: %v", n, err)
		}
	}
	// The outbound faxes, by number, once both are done.
	done := map[string]map[string]any{}
	deadline = time.Now().Add(60 * time.Second)
	for len(done) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the faxes did not finish: %v\n%s", done, d.logs)
		}
		time.Sleep(100 * time.Millisecond)
		var out []map[string]any
		a.get("/transmissions?direction=outbound&origin=smtp", &out)
		for _, tr := range out {
			if st := tr["status"]; st != "pending" && st != "processing" {
				var c map[string]any
				a.get(fmt.Sprintf("/contacts/%d", int64(tr["contact_id"].(float64))), &c)
				done[strings.TrimPrefix(fmt.Sprint(c["phone"]), "+")] = tr
			}
		}
	}
	detail := func(tr map[string]any) string {
		_, body := d.call(t, "GET", fmt.Sprintf("/transmissions/%d/detail", int64(tr["transmission_id"].(float64))), a.token, nil)
		return string(body)
	}
	if tr := done[ok]; tr == nil || tr["status"] != "completed" || fmt.Sprint(tr["try_done"]) != "1" {
		t.Errorf("the fax the far machine took: %v %s", tr, detail(tr))
	}
	if tr := done[failing]; tr == nil || tr["status"] != "failed" || fmt.Sprint(tr["try_done"]) != "3" ||
		!strings.Contains(detail(tr), `"response":"`+dialer.CauseFaxFailed+`"`) {
		t.Errorf("the fax the far machine failed: %v %s", tr, detail(tr))
	}
	txfax := 0
	for _, o := range fs.Originates() {
		if o.Application == "txfax" {
			txfax++
		}
	}
	if txfax != 4 {
		t.Errorf("%d txfax originates, want 4 (1 + 3 tries)", txfax)
	}
	var raw json.RawMessage
	a.get("/transmissions?direction=inbound", &raw)
	if n := strings.Count(string(raw), `"origin":"smtp"`); n != 2 {
		t.Errorf("%d inbound email transmissions, want 2: %s", n, raw)
	}
	d.stop(t, syscall.SIGTERM)
}
