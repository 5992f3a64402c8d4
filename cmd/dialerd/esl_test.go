package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
)

// TestDaemonStartsFreeSwitchNodes: on start-up the daemon connects to the
// enabled FreeSWITCH profiles of every tenant (and to no disabled one),
// /readyz reports each, and SIGTERM says goodbye to FreeSWITCH.
func TestDaemonStartsFreeSwitchNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	enabled := esltest.Start(t, esltest.Options{Password: "Node-Pass-1"})
	disabled := esltest.Start(t, esltest.Options{})
	data, db := sealedData(t)
	ctx := context.Background()
	if _, err := db.Bootstrap(ctx, "admin", "unused-hash"); err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateTenant(ctx, "other", "org")
	if err != nil {
		t.Fatal(err)
	}
	profile := func(s *esltest.Server, name, password string, on bool) dialer.PBXProfile {
		host, port, _ := net.SplitHostPort(s.Addr())
		p, _ := strconv.Atoi(port)
		return dialer.PBXProfile{TenantID: other.ID, Type: dialer.PBXFreeSwitch, Name: name, Enabled: on, Host: host,
			Port: p, Password: password, SessionsPerSecond: 30, MaxSessions: 100}
	}
	id, err := db.CreatePBX(ctx, profile(enabled, "on", "Node-Pass-1", true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreatePBX(ctx, profile(disabled, "off", "ClueCon", false)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	p := startDaemon(t, data)
	deadline := time.Now().Add(10 * time.Second)
	for !sawCommand(enabled, "event") {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not connect:\n%s", p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	check := `"esl:` + strconv.FormatInt(id, 10) + `":"ok"`
	for {
		code, body := p.call(t, "GET", "/readyz", "", nil)
		if code == 200 && strings.Contains(string(body), check) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(disabled.Commands()) != 0 {
		t.Error("the daemon connected to a disabled profile")
	}
	if strings.Contains(p.logs.String(), "Node-Pass-1") {
		t.Error("the log carries the node's password")
	}
	p.stop(t, syscall.SIGTERM)
	if !sawCommand(enabled, "exit") {
		t.Error("no exit to FreeSWITCH on SIGTERM")
	}
}

func sawCommand(s *esltest.Server, name string) bool {
	for _, c := range s.Commands() {
		if c.Name == name {
			return true
		}
	}
	return false
}
