package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// TestBenchUASAnswersOptions runs the bench's trunk scenario in a real
// SIPp: an OPTIONS ping gets 200 (SIPp's built-in uas failed it as a call),
// SIPp's own UAC completes calls through it, and the message log counts the
// ping apart from the calls.
func TestBenchUASAnswersOptions(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp is missing in CI: make test-deps installs sip-tester")
		}
		t.Skip("sipp not installed (make test-deps installs Debian's sip-tester)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "bench_uas.xml")
	if err := os.WriteFile(scenario, benchUAS, 0o644); err != nil {
		t.Fatal(err)
	}
	uas, err := e2e.StartSIPp(ctx, e2e.SIPpOptions{Dir: dir, Scenario: scenario, Calls: 3, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uas.Proc.Stop(syscall.SIGKILL, time.Second) })

	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	ping := "OPTIONS sip:127.0.0.1:" + strconv.Itoa(uas.Port) + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bKbench1\r\n" +
		"From: <sip:dialerd@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: bench-ping-1\r\n" +
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: uas.Port}
	if _, err := c.WriteTo([]byte(ping), to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to OPTIONS: %v", err)
	}
	if first, _, _ := strings.Cut(string(buf[:n]), "\r\n"); first != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS answered %q", first)
	}

	uacDir := t.TempDir()
	uac, err := e2e.StartSIPp(ctx, e2e.SIPpOptions{Dir: uacDir, UAC: "127.0.0.1:" + strconv.Itoa(uas.Port), Calls: 2,
		Timeout: 30 * time.Second, Args: []string{"-d", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	if !uac.Proc.Wait(ctx, 30*time.Second) || uac.Proc.Err() != nil {
		t.Fatalf("SIPp's UAC: %v: %s", uac.Proc.Err(), e2e.Tail(uac.OutPath(), 1000))
	}
	if ok, failed := uac.Counts(); ok != 2 || failed != 0 {
		t.Fatalf("UAC calls: %d ok, %d failed; want 2, 0", ok, failed)
	}
	if !uas.Proc.Wait(ctx, 15*time.Second) {
		t.Fatal("the UAS did not end after its 3 calls (1 ping, 2 calls)")
	}
	tr, err := uas.Trace()
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Requests("OPTIONS"); got != 1 {
		t.Fatalf("OPTIONS pings in the log: %d, want 1", got)
	}
	if ok, failed := uas.Counts(); ok != 3 || failed != 0 {
		t.Fatalf("UAS counts %d ok, %d failed; want 3 (the ping among them), 0", ok, failed)
	}
}
