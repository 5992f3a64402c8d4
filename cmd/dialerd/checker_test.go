package main

import (
	"encoding/json"
	"testing"
)

// TestDaemonRefusesAProviderNoGatewayCarries is the API's checker wired
// into the daemon: with sip.listen off, a SIP trunk provider (gateway_flag
// 8) is refused naming sip.listen and nothing is written. Before: accepted,
// and its campaigns waited for ever.
func TestDaemonRefusesAProviderNoGatewayCarries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=configured-pw")
	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "configured-pw"})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	code, body = p.call(t, "POST", "/providers", tok.Token, map[string]any{"name": "sipp", "host": "127.0.0.1", "gateway_flag": 8})
	var refused struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &refused); code != 412 || err != nil || refused.Error.Fields["sip.listen"] == "" {
		t.Errorf("a SIP provider with sip.listen off: %d %s, want 412 naming sip.listen", code, body)
	}
	if code, body := p.call(t, "GET", "/providers", tok.Token, nil); code != 200 || string(body) != "[]" {
		t.Errorf("providers after the refusal: %d %s", code, body)
	}
	// A FreeSWITCH provider is taken; a FreeSWITCH node need not be up.
	if code, body := p.call(t, "POST", "/providers", tok.Token, map[string]any{"name": "trunk-1", "host": "sip.example.com"}); code != 200 {
		t.Errorf("a FreeSWITCH provider: %d %s", code, body)
	}
}
