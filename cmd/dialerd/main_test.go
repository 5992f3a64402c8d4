package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as dialerd itself when asked, so the
// process tests run the real main without building a second binary.
func TestMain(m *testing.M) {
	if os.Getenv("DIALERD_TEST_AS_DAEMON") == "1" {
		os.Unsetenv("DIALERD_TEST_AS_DAEMON") // the test's own switch, no key
		os.Exit(runEnviron(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type daemonProc struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedLog
	done chan error
}

// lockedLog collects the daemon's log lines while tests read them.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenLine = regexp.MustCompile(`msg="dialerd listening" addr=(\S+)`)

// startDaemon runs dialerd with no config file, the given data dir and
// environment, and waits until it logs its address.
func startDaemon(t *testing.T, dataDir string, env ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{
		"DIALERD_TEST_AS_DAEMON=1",
		"DIALERD_DATA_DIR=" + dataDir,
		"DIALERD_LISTEN=127.0.0.1:0",
		// Tests run at any hour: no calling-hours default.
		"DIALERD_COMPLIANCE_DEFAULT_WINDOW=00:00-24:00",
		"PATH=" + os.Getenv("PATH"),
	}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, logs: new(lockedLog), done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			if m := listenLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("dialerd exited before listening: %v\n%s", err, p.logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("dialerd did not listen within 15s:\n%s", p.logs)
	}
	return p
}

// stop signals the daemon and checks it exits 0 promptly.
func (p *daemonProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("dialerd exited with %v after %v:\n%s", err, sig, p.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("dialerd did not exit within 10s of %v", sig)
	}
}

func (p *daemonProc) call(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.addr+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestDaemonLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	data := filepath.Join(t.TempDir(), "var")
	p := startDaemon(t, data)

	if code, _ := p.call(t, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	// No password configured: one was generated for the operator, mode 0600,
	// and the log says where.
	pwFile := filepath.Join(data, "admin-password")
	st, err := os.Stat(pwFile)
	if err != nil {
		t.Fatalf("no generated admin password: %v\n%s", err, p.logs)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", pwFile, st.Mode().Perm())
	}
	if !strings.Contains(p.logs.String(), pwFile) {
		t.Errorf("the log does not say where the admin password is:\n%s", p.logs)
	}
	raw, _ := os.ReadFile(pwFile)
	password := strings.TrimSpace(string(raw))

	code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": password})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var tok struct{ Token string }
	json.Unmarshal(body, &tok)
	if code, body := p.call(t, "POST", "/users", tok.Token, map[string]string{"username": "kept", "passwd": "kept-password"}); code != 200 {
		t.Fatalf("create user: %d %s", code, body)
	}
	p.stop(t, syscall.SIGTERM)

	// Restarted on the same data dir: the data and the token are still good,
	// and the admin password was not regenerated.
	p = startDaemon(t, data)
	code, body = p.call(t, "GET", "/users?username=kept", tok.Token, nil)
	if code != 200 || !strings.Contains(string(body), `"kept"`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if raw2, _ := os.ReadFile(pwFile); !bytes.Equal(raw, raw2) {
		t.Error("the admin password file changed on restart")
	}
	p.stop(t, syscall.SIGINT)
}

func TestDaemonConfiguredAdminPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	data := t.TempDir()
	p := startDaemon(t, data, "DIALERD_ADMIN_USER=root-op", "DIALERD_ADMIN_PASSWORD=configured-pw", "DIALERD_LOG_FORMAT=text")
	if _, err := os.Stat(filepath.Join(data, "admin-password")); err == nil {
		t.Error("a password file was written although the password was configured")
	}
	if code, body := p.call(t, "POST", "/authenticate", "", map[string]string{"username": "root-op", "password": "configured-pw"}); code != 200 {
		t.Errorf("login with the configured password: %d %s", code, body)
	}
	p.stop(t, syscall.SIGTERM)
}

func TestDaemonRefusesBadConfig(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"DIALERD_TEST_AS_DAEMON=1", "DIALERD_DATA_DIR=" + t.TempDir(), "DIALERD_LOG_FORMAT=xml"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2", err)
	}
	if !strings.Contains(string(out), "log.format") {
		t.Errorf("message does not name the key: %s", out)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, envOf(nil), &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "dialerd ") {
		t.Errorf("version: code %d, output %q", code, out.String())
	}
}
