package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/mail/mailtest"
)

// TestKannelProgramsE2E runs the daemon with its Kannel gateway in front
// of Debian's bearerbox and smsbox and an SMPP SMSC: sendsms ends as the
// delivery report says, an SMS to a dead phone or one the SMSC refuses
// fails, Kannel down is the route's fault, and an MO message to a DID with
// a receivesms program becomes an inbound transmission.
func TestKannelProgramsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and Kannel")
	}
	cbPort := mailtest.FreePort(t)
	k := mailtest.StartKannel(t, "http://127.0.0.1:"+strconv.Itoa(cbPort))
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1",
		"DIALERD_KANNEL_LISTEN=127.0.0.1:"+strconv.Itoa(cbPort), "DIALERD_KANNEL_DLR_TIMEOUT=20s")
	a := login(t, p, "admin-password-1")

	provider := map[string]any{"name": "kannel", "gateway_flag": 2, "service_flag": 4, "host": "127.0.0.1", "port": k.SendsmsPort,
		"username": "tester", "password": "testpw", "settings": `{"from": "12345"}`}
	bad := map[string]any{}
	for key, v := range provider {
		bad[key] = v
	}
	bad["port"] = 0
	a.refused("POST", "/providers", bad, "port")
	providerID := a.id("POST", "/providers", provider, "provider_id")
	text := a.id("POST", "/messages/texts", map[string]any{"name": "hi", "data": "Hello from dialerd ✓"}, "text_id")
	prog := a.id("POST", "/programs/sendsms", map[string]any{"name": "hi", "text_id": text}, "program_id")
	tests := []struct {
		phone, status, result string
	}{
		{"+14155550001", "completed", "delivered"},
		{"+14155550002", "failed", `"response":"NOT_DELIVERED"`},
		{"+14155550003", "failed", `"response":"SMS_REJECTED"`},
	}
	for _, tt := range tests {
		c := a.id("POST", "/contacts", map[string]any{"first_name": "S", "phone": tt.phone}, "contact_id")
		st, res := a.sendOne(c, prog)
		if st != tt.status || !strings.Contains(res, tt.result) {
			t.Errorf("%s: %s %s, want %s with %q", tt.phone, st, res, tt.status, tt.result)
		}
	}
	for _, s := range k.SMSC.Submitted() {
		if s.Text != "Hello from dialerd ✓" || s.Coding != 0x08 {
			t.Errorf("the SMSC got %+v", s)
		}
	}

	// MO: the SMSC delivers to a DID a receivesms program owns.
	did := a.id("POST", "/accounts", map[string]any{"type": "did", "phone": "+14155550100", "first_name": "Inbox"}, "account_id")
	a.id("POST", "/programs/receivesms", map[string]any{"name": "inbox", "account_id": did}, "program_id")
	k.SMSC.SendMO("+447700900123", "+14155550100", "hello dialerd")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var in []map[string]any
		a.get("/transmissions?direction=inbound", &in)
		if len(in) == 1 {
			if in[0]["status"] != "completed" || in[0]["origin"] != "kannel" {
				t.Errorf("inbound %v", in[0])
			}
			_, body := p.call(t, "GET", "/transmissions/"+fmt.Sprint(int64(in[0]["transmission_id"].(float64)))+"/result", a.token, nil)
			if !strings.Contains(string(body), "hello dialerd") {
				t.Errorf("inbound result %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no inbound SMS recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Kannel down: the route's fault. The try is kept, the provider backed
	// off, and the transmission waits for a route instead of failing.
	provider["port"] = mailtest.FreePort(t)
	if code, body := p.call(t, "PUT", "/providers/"+strconv.FormatInt(providerID, 10), a.token, provider); code != 200 {
		t.Fatalf("PUT provider: %d %s", code, body)
	}
	c := a.id("POST", "/contacts", map[string]any{"first_name": "S", "phone": "+14155550009"}, "contact_id")
	id := a.id("POST", "/transmissions", map[string]any{"contact_id": c, "program_id": prog, "direction": "outbound", "try_allowed": 1}, "transmission_id")
	path := "/transmissions/" + strconv.FormatInt(id, 10)
	p.call(t, "POST", path+"/send", a.token, nil)
	deadline = time.Now().Add(15 * time.Second)
	for {
		_, detail := p.call(t, "GET", path+"/detail", a.token, nil)
		if strings.Contains(string(detail), `"response":"GATEWAY_ERROR"`) {
			var tr map[string]any
			a.get(path, &tr)
			if tr["status"] != "pending" {
				t.Errorf("after Kannel down the transmission is %v, want pending (its try kept)", tr["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GATEWAY_ERROR spool: %s", detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)
}
