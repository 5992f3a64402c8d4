package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// The tests run dialerctl in-process against a real dialerd, built from
// this tree and started as a child on the memory gateway (each call rings
// 2 s and talks 10 s), so every request and the live stream cross a real
// socket.

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// daemonBinary builds cmd/dialerd once per test run, as the crash suite
// does (same flags, so the build cache serves both).
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dialerctl-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "dialerd")
		cmd := exec.Command("go", "build", "-o", buildBin, "github.com/dialerd/dialerd/cmd/dialerd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			buildBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building dialerd: %v\n%s", buildErr, buildBin)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// startDaemon runs dialerd on the memory gateway until the test ends.
func startDaemon(t *testing.T) *e2e.Dialerd {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts dialerd")
	}
	d, err := e2e.NewDialerd(daemonBinary(t), t.TempDir(), false, "DIALERD_ENGINE_GATEWAY=memory")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(15 * time.Second); err != nil {
			t.Errorf("stopping dialerd: %v\n%s", err, e2e.Tail(d.LogPath(), 2000))
		}
	})
	return d
}

// cli runs dialerctl in-process with its config dir in configDir.
type cli struct {
	t         *testing.T
	configDir string
	env       map[string]string
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *cli) run(stdin string, argv ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv:        func(k string) string { return c.env[k] },
		userConfigDir: func() (string, error) { return c.configDir, nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := a.run(ctx, argv)
	return result{code, out.String(), errOut.String()}
}

// must runs argv and fails the test unless it exits with want.
func (c *cli) must(want int, stdin string, argv ...string) result {
	c.t.Helper()
	r := c.run(stdin, argv...)
	if r.code != want {
		c.t.Fatalf("dialerctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(argv, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// TestCampaignThroughFakeGateway is an operator's session: log in, import
// contacts with a bad row, start a campaign, watch it to its final counts
// and fetch its report.
func TestCampaignThroughFakeGateway(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	ctx := context.Background()
	server := d.API.Base
	c := &cli{t: t, configDir: t.TempDir()}

	// login keeps the token for the user only.
	r := c.must(0, d.Password+"\n", "login", "--server", server, "--user", "admin")
	if strings.Contains(r.stdout+r.stderr, d.Password) {
		t.Error("login printed the password")
	}
	credPath := filepath.Join(c.configDir, "dialerctl", "credentials.json")
	for path, want := range map[string]os.FileMode{credPath: 0o600, filepath.Dir(credPath): 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	if strings.Contains(r.stdout, "token\":") {
		t.Error("login printed the token")
	}

	// What a campaign needs besides contacts, made through the API.
	if _, err := d.API.Create(ctx, http.MethodPost, "/providers", map[string]any{"name": "mem", "service_flag": 1, "host": "127.0.0.1", "settings": `{"allow_anonymous": true}`}, "provider_id"); err != nil {
		t.Fatal(err)
	}
	program, err := d.API.VoiceProgram(ctx, "greeting", time.Second)
	if err != nil {
		t.Fatal(err)
	}

	// A file with a bad row: the good rows are imported, the bad one is
	// named by line and field, and the exit code says not everything went in.
	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte("phone,first_name\n+15552000001,Ann\n+15552000002,Bob\n=cmd|calc,Eve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.must(exitPartial, "", "contacts", "import", file, "--group", "callers")
	if !strings.Contains(r.stdout, "2 imported, 0 existing, 1 failed") || !strings.Contains(r.stdout, "line 4: phone:") {
		t.Errorf("import output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, `created group "callers"`) {
		t.Errorf("import did not say it created the group: %s", r.stderr)
	}
	// The same file again, by the group's name: nothing new, the same bad row.
	r = c.must(exitPartial, "", "contacts", "import", file, "--group", "callers", "--json")
	var imp importResult
	if err := json.Unmarshal([]byte(r.stdout), &imp); err != nil || imp.Existing != 2 || imp.Imported != 0 || imp.Failed != 1 || len(imp.Errors) != 1 || imp.Errors[0].Line != 4 {
		t.Errorf("re-import --json: %v %+v\n%s", err, imp, r.stdout)
	}

	// dialerctl api reaches the routes the other commands do not cover.
	var groups []struct {
		ID int64 `json:"group_id"`
	}
	r = c.must(0, "", "api", "GET", "/groups?name=callers")
	if err := json.Unmarshal([]byte(r.stdout), &groups); err != nil || len(groups) != 1 {
		t.Fatalf("api GET /groups?name=callers: %v\n%s", err, r.stdout)
	}
	r = c.must(0, "", "api", "POST", "/campaigns", "--data",
		fmt.Sprintf(`{"program_id": %d, "group_id": %d, "cpm": 600}`, program, groups[0].ID), "--field", "campaign_id")
	campaignID, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		t.Fatalf("api --field campaign_id printed %q", r.stdout)
	}
	id := itoa(campaignID)

	r = c.must(0, "", "campaigns", "ls")
	if !strings.Contains(r.stdout, "STATUS") || !strings.Contains(r.stdout, "new") {
		t.Errorf("campaigns ls:\n%s", r.stdout)
	}
	r = c.must(0, "", "campaigns", "start", id)
	if !strings.Contains(r.stdout, "campaign "+id+" started: active") {
		t.Errorf("start: %s", r.stdout)
	}

	// watch follows the live stream to the end and prints the final counts.
	start := time.Now()
	r = c.must(0, "", "campaigns", "watch", id)
	want := "campaign " + id + " completed: total 2, done 2, answered 2, failed 0, in flight 0, pending 0"
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("watch printed %q, want %q (stderr %s)", r.stdout, want, r.stderr)
	}
	t.Logf("watch ended %v after the start", time.Since(start).Round(time.Millisecond))

	// A finished campaign: --json is the campaign, and it is final.
	r = c.must(0, "", "campaigns", "watch", id, "--json")
	var k campaign
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.Status != "completed" || k.Counters.Answered != 2 {
		t.Errorf("watch --json: %v %+v", err, k)
	}
	r = c.must(0, "", "campaigns", "show", id)
	if !strings.Contains(r.stdout, "status:      completed") {
		t.Errorf("show:\n%s", r.stdout)
	}

	// The report as CSV: one row per contact with its number and outcome,
	// whichever of the daemon's routes serves it.
	r = c.must(0, "", "report", id, "--csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) < 3 {
		t.Fatalf("report --csv: %v\n%s", err, r.stdout)
	}
	for _, phone := range []string{"+15552000001", "+15552000002"} {
		if !strings.Contains(r.stdout, phone) {
			t.Errorf("report has no row for %s:\n%s", phone, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "transmissions export") {
		// The fallback's own columns.
		if strings.Join(rows[0], ",") != "transmission_id,contact_id,phone,status,response,try_done,try_allowed,last_updated" || len(rows) != 3 {
			t.Errorf("fallback report:\n%s", r.stdout)
		}
		for _, row := range rows[1:] {
			if row[2][0] != '\'' || row[3] != "completed" {
				t.Errorf("fallback row %v: want a guarded phone and completed", row)
			}
		}
	}

	// Providers: the fake gateway watches no trunk, so health is unknown
	// and the daemon is ready.
	r = c.must(0, "", "providers", "ls")
	if !strings.Contains(r.stdout, "mem") || !strings.Contains(r.stdout, "freeswitch") {
		t.Errorf("providers ls:\n%s", r.stdout)
	}
	r = c.must(0, "", "providers", "health", "--json")
	var h struct {
		Providers []struct{ Name, Health string }
		Ready     readiness
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || len(h.Providers) != 1 || h.Providers[0].Health != "unknown" || h.Ready.Status != "ready" || h.Ready.Checks["store"] != "ok" {
		t.Errorf("providers health --json: %v %+v\n%s", err, h, r.stdout)
	}
}

// TestExitCodes: each kind of failure has its documented code and a
// message on stderr, never on stdout.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	loggedIn := &cli{t: t, configDir: t.TempDir()}
	loggedIn.must(0, d.Password+"\n", "login", "--server", d.API.Base)
	fresh := &cli{t: t, configDir: t.TempDir()}
	expired := &cli{t: t, configDir: t.TempDir(), env: map[string]string{"DIALERCTL_TOKEN": "not-a-token"}}

	for _, tc := range []struct {
		name  string
		c     *cli
		stdin string
		argv  []string
		code  int
		says  string
	}{
		{"unknown command", loggedIn, "", []string{"campaings", "ls"}, exitUsage, "unknown command"},
		{"unknown flag", loggedIn, "", []string{"campaigns", "ls", "--colour"}, exitUsage, "unknown flag"},
		{"missing argument", loggedIn, "", []string{"campaigns", "show"}, exitUsage, "takes CAMPAIGN"},
		{"not an id", loggedIn, "", []string{"campaigns", "start", "first"}, exitUsage, "want a campaign id"},
		{"import without group", loggedIn, "", []string{"contacts", "import", "x.csv"}, exitUsage, "--group is required"},
		{"import of a missing file", loggedIn, "", []string{"contacts", "import", "/nonexistent.csv", "-g", "1"}, exitUsage, "no such file"},
		{"bad server", loggedIn, "", []string{"campaigns", "ls", "--server", "ftp://x"}, exitUsage, "want a URL"},
		{"unknown campaign", loggedIn, "", []string{"campaigns", "show", "9999"}, exitAPI, "404 campaign not found"},
		{"report of an unknown campaign", loggedIn, "", []string{"report", "9999", "--csv"}, exitAPI, "404"},
		{"not logged in", fresh, "", []string{"campaigns", "ls", "--server", d.API.Base}, exitAuth, "not logged in"},
		// The saved token belongs to its server: another server is not sent it.
		{"another server", loggedIn, "", []string{"campaigns", "ls", "--server", "http://127.0.0.2:9"}, exitAuth, "not logged in to http://127.0.0.2:9"},
		{"refused token", expired, "", []string{"campaigns", "ls", "--server", d.API.Base}, exitAuth, "401"},
		{"wrong password", fresh, "wrong-password\n", []string{"login", "--server", d.API.Base}, exitAuth, "wrong username or password"},
		{"api to another host", loggedIn, "", []string{"api", "GET", "//evil.example/campaigns"}, exitUsage, "want a path on the server"},
		{"api with a bad method", loggedIn, "", []string{"api", "FETCH", "/campaigns"}, exitUsage, "want GET"},
		{"api to an unknown route", loggedIn, "", []string{"api", "GET", "/nothing"}, exitAPI, "404 route /nothing not found"},
		{"api refused body", loggedIn, "", []string{"api", "POST", "/campaigns", "--data", `{"cpm": 0}`}, exitAPI, "program_id: required"},
		{"unreachable", expired, "", []string{"campaigns", "ls", "--server", "http://127.0.0.1:1"}, exitUnreachable, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			r := tc.c.run(tc.stdin, tc.argv...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
				t.Errorf("exit %d, want %d; stderr %q, want it to say %q", r.code, tc.code, r.stderr, tc.says)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
