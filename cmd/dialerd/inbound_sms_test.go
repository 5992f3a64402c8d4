package main

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInboundSMSOverSIP runs the daemon with its SIP gateway and has sipp,
// as a trunk, deliver a SIP MESSAGE to a DID that an account with a
// receivesms program owns: an inbound transmission must appear, completed,
// with the text as its result. A MESSAGE to a number nobody owns must not.
func TestInboundSMSOverSIP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and sipp")
	}
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	sipPort := freeUDPPort(t)
	p := startDaemon(t, t.TempDir(), "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(sipPort),
		"DIALERD_ADMIN_PASSWORD=admin-password-1")
	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "admin-password-1"})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var tok struct{ Token string }
	json.Unmarshal(body, &tok)
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
	account := mustID("POST", "/accounts", map[string]any{"type": "did", "phone": "+15550009999", "first_name": "Inbox"}, "account_id")
	mustID("POST", "/programs/receivesms", map[string]any{"name": "inbox", "account_id": account}, "program_id")

	send := func(to, text string) {
		t.Helper()
		dir := t.TempDir()
		scenario, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "sipp", "message_in.xml"))
		cmd := exec.Command(sippBin, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
			"-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error",
			"-key", "from", "447700900123", "-key", "to", to, "-key", "body", text,
			"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
			"127.0.0.1:"+strconv.Itoa(sipPort))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sipp: %v\n%s", err, out)
		}
	}
	send("15550009999", "hello from the trunk")
	send("15550001111", "nobody owns this number")

	var list []map[string]any
	code, body = p.call(t, "GET", "/transmissions?direction=inbound", tok.Token, nil)
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 {
		t.Fatalf("inbound transmissions: %d %s", code, body)
	}
	if list[0]["status"] != "completed" {
		t.Errorf("inbound transmission %v", list[0])
	}
	id := strconv.FormatInt(int64(list[0]["transmission_id"].(float64)), 10)
	code, body = p.call(t, "GET", "/transmissions/"+id+"/result", tok.Token, nil)
	if code != 200 || !strings.Contains(string(body), "hello from the trunk") {
		t.Errorf("result: %d %s", code, body)
	}
	p.stop(t, syscall.SIGTERM)
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The daemon and sipp bind UDP and TCP on the same port: make sure the
	// TCP side is free too.
	port := c.LocalAddr().(*net.UDPAddr).Port
	if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		l.Close()
	} else {
		time.Sleep(time.Millisecond)
		return freeUDPPort(t)
	}
	return port
}

// startSippUAS runs SIPp as the far end with testdata/sipp/<scenario>.xml
// on a free loopback port, for calls calls within timeout (SIPp's own
// -timeout, an error when reached), with extra arguments; done yields its
// exit. It is killed when the test ends.
func startSippUAS(t *testing.T, sippBin, scenario string, calls int, timeout string, extra ...string) (port int, done <-chan error) {
	t.Helper()
	port = freeUDPPort(t)
	sf, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "sipp", scenario+".xml"))
	args := append([]string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls), "-nostdin",
		"-timeout", timeout, "-timeout_error"}, extra...)
	cmd := exec.Command(sippBin, args...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return port, ch
}
