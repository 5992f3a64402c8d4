package main

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/mail/mailtest"
)

// TestVoiceTTSCalleeBusyOverSIP: a voicetts call the callee refuses (SIPp
// answers 486) is the callee's fault by the cause table: the transmission
// fails USER_BUSY with the SIP code in its spool, and the trunk is not
// blamed (the next call goes out on it). Before, only a voicetts call
// that was answered, or whose text failed to render, was tested end to end.
func TestVoiceTTSCalleeBusyOverSIP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and sipp")
	}
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		mailtest.SkipOrFail(t, "sipp (Debian package sip-tester) is not installed")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		mailtest.SkipOrFail(t, "espeak-ng (Debian package espeak-ng) is not installed")
	}
	sippPort, sippDone := startSippUAS(t, sippBin, "busy", 2, "120s")

	p := startDaemon(t, t.TempDir(), "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(freeUDPPort(t)),
		"DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_GATEWAY=live")
	a := login(t, p, "admin-password-1")
	a.id("POST", "/providers", map[string]any{"name": "sipp", "type": "sip", "gateway_flag": 8, "service_flag": 1,
		"host": "127.0.0.1", "port": sippPort, "settings": `{"transport": "udp", "allow_anonymous": true}`}, "provider_id")
	prog := a.id("POST", "/programs/voicetts", map[string]any{"name": "reminder",
		"text": "Your appointment is tomorrow at ten.", "language": "en-US"}, "program_id")
	for i := range 2 {
		c := a.id("POST", "/contacts", map[string]any{"phone": "+1212555012" + strconv.Itoa(i), "first_name": "Ann"}, "contact_id")
		st, res := a.sendOne(c, prog)
		if st != "failed" || !strings.Contains(res, `"response":"USER_BUSY"`) || !strings.Contains(res, "486") {
			t.Errorf("call %d to a busy callee: %s %s, want failed USER_BUSY with the 486", i, st, res)
		}
	}
	select {
	case err := <-sippDone:
		if err != nil {
			t.Errorf("sipp: %v (both calls should have reached it)", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("sipp did not see both calls")
	}
	p.stop(t, syscall.SIGTERM)
}

// TestSendEmailServerDownE2E: a sendemail whose SMTP server does not
// answer (nothing listens on its port) is the route's fault by the cause
// table: the spool says GATEWAY_ERROR, the try is kept and the
// transmission waits for a route rather than failing. Before, only the
// mail package's unit test covered it; the API's view was untested.
func TestSendEmailServerDownE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1")
	a := login(t, p, "admin-password-1")
	a.id("POST", "/providers", map[string]any{"name": "mail", "gateway_flag": 4, "service_flag": 8, "host": "127.0.0.1",
		"port": mailtest.FreePort(t), "settings": `{"tls": "none", "from": "dialer@example.com"}`}, "provider_id")
	tpl := a.id("POST", "/messages/templates", map[string]any{"name": "hello", "subject": "Hello", "body": "<p>Hello</p>"}, "template_id")
	prog := a.id("POST", "/programs/sendemail", map[string]any{"name": "hello", "template_id": tpl}, "program_id")
	c := a.id("POST", "/contacts", map[string]any{"first_name": "Ada", "phone": "+14155550190", "email": "ada@example.org"}, "contact_id")
	id := a.id("POST", "/transmissions", map[string]any{"contact_id": c, "program_id": prog, "direction": "outbound", "try_allowed": 1}, "transmission_id")
	path := "/transmissions/" + strconv.FormatInt(id, 10)
	if code, body := p.call(t, "POST", path+"/send", a.token, nil); code != 200 {
		t.Fatalf("send: %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, detail := p.call(t, "GET", path+"/detail", a.token, nil)
		if strings.Contains(string(detail), `"response":"GATEWAY_ERROR"`) {
			var tr map[string]any
			a.get(path, &tr)
			if tr["status"] != "pending" || tr["try_done"] != float64(0) {
				t.Errorf("after the SMTP server was down the transmission is %v with %v tries done, want pending with its try kept", tr["status"], tr["try_done"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GATEWAY_ERROR spool: %s\n%s", detail, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)
}

// TestKannelMOForNobodyE2E: an MO message through Debian's Kannel to a
// number no receivesms program owns records nothing (smsbox is answered
// so that it does not retry), while one to the DID that has the program
// becomes its inbound transmission. Before, only the owned DID was tested.
func TestKannelMOForNobodyE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and Kannel")
	}
	cbPort := mailtest.FreePort(t)
	k := mailtest.StartKannel(t, "http://127.0.0.1:"+strconv.Itoa(cbPort))
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_KANNEL_LISTEN=127.0.0.1:"+strconv.Itoa(cbPort))
	a := login(t, p, "admin-password-1")
	did := a.id("POST", "/accounts", map[string]any{"type": "did", "phone": "+14155550100", "first_name": "Inbox"}, "account_id")
	a.id("POST", "/programs/receivesms", map[string]any{"name": "inbox", "account_id": did}, "program_id")

	k.SMSC.SendMO("+447700900123", "+14155550199", "for nobody")
	time.Sleep(500 * time.Millisecond) // smsbox serves MO concurrently: keep them in order
	k.SMSC.SendMO("+447700900123", "+14155550100", "for the inbox")
	deadline := time.Now().Add(15 * time.Second)
	var in []map[string]any
	for len(in) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no inbound SMS recorded\n%s", p.logs)
		}
		time.Sleep(100 * time.Millisecond)
		a.get("/transmissions?direction=inbound", &in)
	}
	time.Sleep(500 * time.Millisecond) // a retried or late "nobody" would show now
	a.get("/transmissions?direction=inbound", &in)
	if len(in) != 1 {
		t.Fatalf("%d inbound transmissions, want 1 (the DID's): %v", len(in), in)
	}
	_, body := p.call(t, "GET", "/transmissions/"+strconv.FormatInt(int64(in[0]["transmission_id"].(float64)), 10)+"/result", a.token, nil)
	if !strings.Contains(string(body), "for the inbox") || strings.Contains(string(body), "for nobody") {
		t.Errorf("the inbound transmission's results: %s", body)
	}
	if !strings.Contains(p.logs.String(), "MO message for a number nothing receives") {
		t.Errorf("the daemon did not say it dropped the MO message for nobody:\n%s", p.logs)
	}
	p.stop(t, syscall.SIGTERM)
}

// TestSendSMSOverSIPE2E: sendsms through a SIP trunk (one MESSAGE per
// segment) through the API: completed when the trunk answers 200, and
// UNALLOCATED_NUMBER when it answers 404: a final failure of the number
// itself by the cause table, so the transmission is "invalid". Before, only the SIP package's own tests sent MESSAGE.
func TestSendSMSOverSIPE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and sipp")
	}
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		mailtest.SkipOrFail(t, "sipp (Debian package sip-tester) is not installed")
	}
	sipp := func(scenario string) (port int, done <-chan error) {
		return startSippUAS(t, sippBin, scenario, 1, "60s")
	}
	p := startDaemon(t, t.TempDir(), "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(freeUDPPort(t)),
		"DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_GATEWAY=live")
	a := login(t, p, "admin-password-1")
	okPort, okDone := sipp("message")
	provider := map[string]any{"name": "sms-trunk", "type": "sip", "gateway_flag": 8, "service_flag": 4,
		"host": "127.0.0.1", "port": okPort, "settings": `{"transport": "udp"}`}
	providerID := a.id("POST", "/providers", provider, "provider_id")
	text := a.id("POST", "/messages/texts", map[string]any{"name": "hi", "data": "Your code is 4711"}, "text_id")
	prog := a.id("POST", "/programs/sendsms", map[string]any{"name": "hi", "text_id": text}, "program_id")
	c := a.id("POST", "/contacts", map[string]any{"first_name": "S", "phone": "+14155550141"}, "contact_id")
	if st, res := a.sendOne(c, prog); st != "completed" || !strings.Contains(res, `"response":"NORMAL_CLEARING"`) {
		t.Errorf("SMS the trunk took: %s %s", st, res)
	}
	if err := <-okDone; err != nil {
		t.Errorf("sipp (message): %v", err)
	}

	refusedPort, refusedDone := sipp("message_refused")
	provider["port"] = refusedPort
	if code, body := p.call(t, "PUT", "/providers/"+strconv.FormatInt(providerID, 10), a.token, provider); code != 200 {
		t.Fatalf("PUT provider: %d %s", code, body)
	}
	c = a.id("POST", "/contacts", map[string]any{"first_name": "S", "phone": "+14155550142"}, "contact_id")
	if st, res := a.sendOne(c, prog); st != "invalid" || !strings.Contains(res, `"response":"UNALLOCATED_NUMBER"`) ||
		!strings.Contains(res, `"name":"message","data":"404"`) {
		t.Errorf("SMS the trunk refused: %s %s", st, res)
	}
	if err := <-refusedDone; err != nil {
		t.Errorf("sipp (message_refused): %v", err)
	}
	p.stop(t, syscall.SIGTERM)
}
