package main

import (
	"bytes"
	"context"
	"net/http"
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

// need finds a binary; outside CI a missing one skips the test, in CI
// (CI is set) it fails: make test-deps installs it.
func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: make test-deps installs Debian's %s", bin, pkg)
	}
	t.Skipf("%s is not installed (make test-deps installs Debian's %s)", bin, pkg)
	return ""
}

// quickStart is the README's quick start: its three shell blocks.
func quickStart(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	start := strings.Index(s, "## Quick start")
	if start < 0 {
		t.Fatal("the README has no quick start")
	}
	s = s[start+1:]
	s = s[:strings.Index(s, "\n## ")]
	var blocks []string
	for {
		a := strings.Index(s, "```sh\n")
		if a < 0 {
			break
		}
		s = s[a+len("```sh\n"):]
		b := strings.Index(s, "```")
		blocks = append(blocks, s[:b])
		s = s[b+3:]
	}
	if len(blocks) != 3 {
		t.Fatalf("the quick start has %d shell blocks, want 3 (daemon, SIPp, the rest)", len(blocks))
	}
	return blocks
}

// replace replaces old in s, failing when the README no longer has it.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the quick start no longer has %q:\n%s", old, s)
	}
	return strings.ReplaceAll(s, old, new)
}

// TestReadmeQuickStart runs the README's quick start as written, but on
// free ports and in a temporary directory: dialerd as the first block
// starts it (the binary instead of make run, which compiles it again),
// SIPp as the second, and the third block through bash. It must end with
// the campaign and report the README shows.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs dialerd, SIPp and the quick start")
	}
	sipp := need(t, "sipp", "sip-tester")
	need(t, "espeak-ng", "espeak-ng")
	blocks := quickStart(t)
	daemon := daemonBinary(t)
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "dialerctl"), ".").CombinedOutput(); err != nil {
		t.Fatalf("building dialerctl: %v\n%s", err, out)
	}
	apiPort, err := e2e.FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	sipPort, err := e2e.FreeUDPPorts(1, true)
	if err != nil {
		t.Fatal(err)
	}
	carrierPort, err := e2e.FreeUDPPorts(1, false)
	if err != nil {
		t.Fatal(err)
	}
	server := "http://127.0.0.1:" + strconv.Itoa(apiPort)

	// Terminal 1: the daemon, with the block's settings.
	run := replace(t, strings.TrimSpace(blocks[0]), "DIALERD_SIP_LISTEN=127.0.0.1:5080 DIALERD_COMPLIANCE_DEFAULT_WINDOW=00:00-24:00 make run",
		"DIALERD_SIP_LISTEN=127.0.0.1:5080 DIALERD_COMPLIANCE_DEFAULT_WINDOW=00:00-24:00")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DIALERD_LISTEN=127.0.0.1:" + strconv.Itoa(apiPort), "DIALERD_CONFIG="}
	env = append(env, strings.Fields(strings.Replace(run, ":5080", ":"+strconv.Itoa(sipPort), 1))...)
	cmd := exec.Command(daemon)
	cmd.Dir, cmd.Env = dir, env
	d, err := e2e.StartChild("dialerd", cmd, filepath.Join(dir, "dialerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(syscall.SIGTERM, 15*time.Second) })
	api := e2e.NewClient(server)
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := api.Do(ctx, http.MethodGet, "/readyz", nil, "", nil)
		cancel()
		if err == nil {
			break
		}
		if d.Exited() || time.Since(start) > 30*time.Second {
			t.Fatalf("dialerd not ready: %v\n%s", err, e2e.Tail(filepath.Join(dir, "dialerd.log"), 2000))
		}
	}

	// Terminal 2: SIPp as the carrier (the install line aside).
	sippLine := blocks[1][strings.Index(blocks[1], "sipp -sf"):]
	sippLine = replace(t, strings.TrimSpace(sippLine), "-p 5070", "-p "+strconv.Itoa(carrierPort))
	mediaPort, err := e2e.FreeUDPPorts(1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Not from a terminal, and off the default media port other tests may hold.
	args := append(strings.Fields(sippLine)[1:], "-nostdin", "-mp", strconv.Itoa(mediaPort))
	carrier := exec.Command(sipp, args...)
	carrier.Dir = "../.."
	c, err := e2e.StartChild("sipp", carrier, filepath.Join(dir, "sipp.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(syscall.SIGTERM, 5*time.Second) })

	// Terminal 3, as written, on these ports, with dialerctl built above.
	script := replace(t, blocks[2], "go build -o bin/dialerctl ./cmd/dialerctl\n", "")
	script = replace(t, script, "http://127.0.0.1:8000", server)
	script = replace(t, script, `"port": 5070`, `"port": `+strconv.Itoa(carrierPort))
	sh := exec.Command("bash", "-c", script)
	sh.Dir = dir
	sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	var out bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &out
	done := make(chan error, 1)
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- sh.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = sh.Process.Kill()
		t.Fatalf("the quick start did not finish within 2 minutes:\n%s", out.String())
	}
	got := out.String()
	t.Logf("quick start:\n%s", got)
	// providers health exits 5 while the trunk is still unknown; the
	// script's last command decides its status.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != exitPartial) {
		t.Errorf("the quick start failed: %v", err)
	}
	for _, want := range []string{
		"group 1: 3 imported, 0 existing, 1 failed",
		"line 5: phone:",
		"campaign 1 started: active",
		"campaign 1 completed: total 3, done 3, answered 2, failed 1, in flight 0, pending 0",
		"5555550101", "5555550102", "5555550106", "USER_BUSY",
		"daemon: ready",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the quick start did not print %q", want)
		}
	}
	if strings.Contains(got, "transmissions export") { // the daemon has no report route: the fallback's rows
		for _, row := range []string{"'+15555550101,completed,NORMAL_CLEARING", "'+15555550102,completed,NORMAL_CLEARING", "'+15555550106,failed,USER_BUSY"} {
			if !strings.Contains(got, row) {
				t.Errorf("the report has no row %q", row)
			}
		}
	}
}
