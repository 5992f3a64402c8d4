package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer/media"
)

// TestVoiceTTSCampaignOverSIP runs the daemon with its SIP gateway and a
// voicetts campaign to a SIPp callee through the API: espeak-ng renders
// the text, the gateway plays it over RTP to the callee's media address,
// and the transmission is completed only after every packet of the
// rendering was sent (the test counts them). Before: the program was
// refused with 412 naming "program" (the SIP gateway had no text-to-speech).
func TestVoiceTTSCampaignOverSIP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and sipp")
	}
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng (Debian package espeak-ng) is not installed")
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	var packets atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := rtp.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n == 12+160 && buf[0]>>6 == 2 { // one 20 ms G.711 frame
				packets.Add(1)
			}
		}
	}()
	sippPort, sippDone := startSippUAS(t, sippBin, "answer", 1, "120s",
		"-key", "rtp_port", strconv.Itoa(rtp.LocalAddr().(*net.UDPAddr).Port), "-key", "formats", "0 8")

	dataDir := t.TempDir()
	p := startDaemon(t, dataDir, "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(freeUDPPort(t)),
		"DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_GATEWAY=live")
	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "admin-password-1"})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	mustID := func(method, path string, req any, field string) int64 {
		t.Helper()
		code, body := p.call(t, method, path, tok.Token, req)
		var out map[string]any
		json.Unmarshal(body, &out)
		id, ok := out[field].(float64)
		if code != 200 || !ok {
			t.Fatalf("%s %s: %d %s", method, path, code, body)
		}
		return int64(id)
	}
	mustID("POST", "/providers", map[string]any{"name": "sipp", "type": "sip", "gateway_flag": 8, "service_flag": 1,
		"host": "127.0.0.1", "port": sippPort, "settings": `{"transport": "udp", "allow_anonymous": true}`}, "provider_id")
	program := mustID("POST", "/programs/voicetts", map[string]any{"name": "reminder",
		"text": "Your appointment is tomorrow at ten.", "language": "en-US"}, "program_id")
	contact := mustID("POST", "/contacts", map[string]any{"phone": "+12125550111", "first_name": "Ann"}, "contact_id")
	group := mustID("POST", "/groups", map[string]any{"name": "g"}, "group_id")
	if code, body := p.call(t, "PUT", fmt.Sprintf("/contacts/%d/link/%d", contact, group), tok.Token, nil); code != 200 {
		t.Fatalf("adding the contact to the group: %d %s", code, body)
	}
	campaign := mustID("POST", "/campaigns", map[string]any{"program_id": program, "group_id": group, "cpm": 60,
		"try_allowed": 1, "retry_delay": 0}, "campaign_id")
	if code, body := p.call(t, "PUT", fmt.Sprintf("/campaigns/%d/start", campaign), tok.Token, nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	var c struct {
		Status   string
		Counters struct{ Total, Done, Answered, Failed int64 }
	}
	// Bounds on failure only: a race build on a loaded machine is slow.
	deadline := time.Now().Add(100 * time.Second)
	for {
		_, body := p.call(t, "GET", fmt.Sprintf("/campaigns/%d", campaign), tok.Token, nil)
		json.Unmarshal(body, &c)
		if c.Status == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not completed: %s\n%s", body, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c.Counters.Total != 1 || c.Counters.Answered != 1 {
		t.Fatalf("campaign %+v, want its one call completed\n%s", c, p.logs)
	}
	select {
	case err := <-sippDone:
		if err != nil {
			t.Errorf("sipp: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("sipp's callee did not see the BYE")
	}

	// Every sample of the rendering went out before the call was completed.
	renderings, _ := filepath.Glob(filepath.Join(dataDir, "tts", "*", "*.wav"))
	if len(renderings) != 1 {
		t.Fatalf("renderings in the data dir: %v", renderings)
	}
	f, err := os.Open(renderings[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.DecodeAudio(f, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := int64((pcm.Frames() + 159) / 160)
	if pcm.Rate != 8000 || want < 50 {
		t.Fatalf("rendering of %d Hz, %d packets", pcm.Rate, want)
	}
	time.Sleep(100 * time.Millisecond) // the last datagrams on loopback
	if got := packets.Load(); got != want {
		t.Errorf("the callee received %d RTP packets, the rendering is %d", got, want)
	}
	var txs []map[string]any
	_, body = p.call(t, "GET", fmt.Sprintf("/transmissions?campaign_id=%d", campaign), tok.Token, nil)
	if json.Unmarshal(body, &txs) != nil || len(txs) != 1 || txs[0]["status"] != "completed" {
		t.Errorf("transmissions: %s", body)
	}
	p.stop(t, syscall.SIGTERM)
}

// TestVoiceTTSRenderingFailureBlocksTheCampaign: when espeak-ng fails on
// a program's text (here a stand-in binary that always fails), the
// campaign says why: blocked, the content's fault naming text, with
// espeak-ng's message, its work kept; the trunk is never dialled (it would
// be backed off as down: nothing listens on it) and no transmission is
// left in flight.
func TestVoiceTTSRenderingFailureBlocksTheCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	failing := filepath.Join(t.TempDir(), "espeak-ng")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho 'Error: simulated espeak-ng failure' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, t.TempDir(), "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(freeUDPPort(t)),
		"DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_GATEWAY=live", "DIALERD_MEDIA_ESPEAK="+failing)
	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "admin-password-1"})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	mustID := func(method, path string, req any, field string) int64 {
		t.Helper()
		code, body := p.call(t, method, path, tok.Token, req)
		var out map[string]any
		json.Unmarshal(body, &out)
		id, ok := out[field].(float64)
		if code != 200 || !ok {
			t.Fatalf("%s %s: %d %s", method, path, code, body)
		}
		return int64(id)
	}
	mustID("POST", "/providers", map[string]any{"name": "nobody", "type": "sip", "gateway_flag": 8, "service_flag": 1,
		"host": "127.0.0.1", "port": freeUDPPort(t), "settings": `{"allow_anonymous": true}`}, "provider_id")
	program := mustID("POST", "/programs/voicetts", map[string]any{"name": "p", "text": "Hello there."}, "program_id")
	group := mustID("POST", "/groups", map[string]any{"name": "g"}, "group_id")
	for _, phone := range []string{"+12125550111", "+12125550112"} {
		contact := mustID("POST", "/contacts", map[string]any{"phone": phone, "first_name": "A"}, "contact_id")
		if code, body := p.call(t, "PUT", fmt.Sprintf("/contacts/%d/link/%d", contact, group), tok.Token, nil); code != 200 {
			t.Fatalf("link: %d %s", code, body)
		}
	}
	campaign := mustID("POST", "/campaigns", map[string]any{"program_id": program, "group_id": group, "cpm": 60, "try_allowed": 1}, "campaign_id")
	if code, body := p.call(t, "PUT", fmt.Sprintf("/campaigns/%d/start", campaign), tok.Token, nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	var c struct {
		Status  string
		Blocked *struct{ Reason, Field, Fault string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := p.call(t, "GET", fmt.Sprintf("/campaigns/%d", campaign), tok.Token, nil)
		c.Blocked = nil
		json.Unmarshal(body, &c)
		if c.Blocked != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not blocked: %s\n%s", body, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.Blocked.Fault != "content" || c.Blocked.Field != "text" || !strings.Contains(c.Blocked.Reason, "simulated espeak-ng failure") ||
		!strings.Contains(c.Blocked.Reason, "MEDIA_ERROR") {
		t.Errorf("blocked %+v", c.Blocked)
	}
	if strings.Contains(p.logs.String(), "GATEWAY_DOWN") {
		t.Error("the trunk was dialled")
	}
	p.stop(t, syscall.SIGTERM)
}
