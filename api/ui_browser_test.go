package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// chromium finds Debian's chromium. Outside CI a missing browser skips the
// test with a message; in CI (CI is set) it fails: make test-deps installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium"} {
		if p, err := osexec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is missing: make test-deps installs Debian's chromium")
	}
	t.Skip("chromium is not installed (make test-deps installs it): the live page is not tested in a browser")
	return ""
}

// liveDaemon is the API with everything the page uses, over a real store,
// a spool engine on the wall clock dialling through the memory gateway,
// the event bus feeding /ws, and a served HTTP port.
type liveDaemon struct {
	url    string
	f      *dialertest.Fixtures
	gw     *memgateway.Gateway
	tenant string
}

// fakeNodes is one healthy FreeSWITCH node, for the health panel.
type fakeNodes struct{}

func (fakeNodes) ApplyNode(dialer.FreeSwitchNode) error { return nil }
func (fakeNodes) RemoveNode(string)                     {}
func (fakeNodes) NodeHealth() map[string]error          { return map[string]error{"fs1": nil} }

func startLiveDaemon(t *testing.T) *liveDaemon {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dialerd.db")
	db, err := store.Open(ctx, path, store.WithSealKey(bytes.Repeat([]byte("s"), store.SealKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := dialer.HashPassword(adminPassword, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	tenant, err := db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es := store.NewEngineStore(db)
	bus := dialer.NewBus()
	// Short calls on the wall clock: the browser sees them progress live.
	gw := memgateway.New(dialer.SystemClock{}, memgateway.Script{Kind: memgateway.Answer, Ring: 300 * time.Millisecond, Talk: time.Second})
	eng, err := dialer.NewEngine(dialer.DefaultEngineConfig(), dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Events: bus,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, PasswordCost: bcrypt.MinCost},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Contacts: db, Groups: db, Programs: db, Accounts: db, Providers: db, PBX: db,
			Transmissions: db, Campaigns: db, Engine: eng, Events: bus, Nodes: fakeNodes{},
			Checks:      []ReadyCheck{{Name: "store", Check: db.Ping}},
			TrunkHealth: func(int64) (bool, bool) { return true, true }})
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srv.Start(srvCtx)
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		stopSrv()
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		_ = eng.Stop(stopped)
		es.Close()
		db.Close()
	})
	return &liveDaemon{url: hs.URL, f: dialertest.NewFixtures(t, path), gw: gw, tenant: tenant.ID}
}

// TestLivePageInBrowser drives the page in headless chromium: log in, start
// a campaign of four numbers (one busy) through the memory gateway, and see
// the row's counters reach their final values from the live stream; the
// health panel shows the trunk and the node. A screenshot is kept in
// $DIALERD_UI_SCREENSHOT_DIR (else the test's temporary directory).
func TestLivePageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	bin := chromium(t)
	d := startLiveDaemon(t)
	const admin = 1
	d.f.Provider(d.tenant, admin, "trunk-1", dialer.ServiceVoice, 10, 0, "")
	program := d.f.Program(d.tenant, admin, dialer.ProgramVoiceTTS)
	var contacts []int64
	for i, phone := range []string{"+15552000001", "+15552000002", "+15552000003", "+15552000004"} {
		contacts = append(contacts, d.f.Contact(d.tenant, admin, phone, ""))
		if i == 3 {
			d.gw.Script(phone, memgateway.Script{Kind: memgateway.Busy, Ring: 300 * time.Millisecond})
		}
	}
	group := d.f.Group(d.tenant, admin, contacts...)
	campaign := d.f.Campaign(d.tenant, admin, program, group, 600, 1, 60)
	// A second campaign whose callee rings for ever, to stop from the page.
	ringing := d.f.Contact(d.tenant, admin, "+15552000009", "")
	d.gw.Script("+15552000009", memgateway.Script{Kind: memgateway.Hang})
	second := d.f.Campaign(d.tenant, admin, program, d.f.Group(d.tenant, admin, ringing), 600, 1, 60)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	if err := chromedp.Do(ctx); err != nil { // start the browser and open the tab
		t.Fatalf("starting chromium: %v", err)
	}
	// Script errors, CSP refusals and failed loads reach the console.
	row := fmt.Sprintf(`#campaigns tr[data-campaign="%d"]`, campaign)
	var mu sync.Mutex
	var problems []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if strings.Contains(m.Text, "status of 401") {
				continue // the wrong password below, refused as it should be
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()

	for _, step := range []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"open the page", chromedp.Navigate(d.url + "/")},
		{"see the login form", chromedp.WaitVisible(chromedp.CSS("#login"))},
		{"type the username", chromedp.SetValue(chromedp.ID("username"), "admin")},
		{"type a wrong password", chromedp.SendKeys(chromedp.ID("password"), "not-the-password")},
		{"try to log in", chromedp.Click(chromedp.ID("login-submit"))},
		{"be refused", chromedp.Poll[chromedp.Void](`document.getElementById('login-error').textContent === 'Wrong username or password.'`)},
		{"set the right password", chromedp.SetValue(chromedp.ID("password"), adminPassword)},
		{"log in", chromedp.Click(chromedp.ID("login-submit"))},
		{"see the campaign", chromedp.WaitVisible(chromedp.CSS(row + " button.start"))},
		{"see the live stream up (the CSP lets the websocket through)", chromedp.WaitVisible(chromedp.CSS("#live.on"))},
		{"start the campaign", chromedp.Click(chromedp.CSS(row + " button.start"))},
	} {
		if step.name == "start the campaign" {
			// A refresh (the stream's reconnect reloads the list) must
			// update the row in place: a button rebuilt between the
			// press and the release loses the operator's click.
			same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
				const q = () => document.querySelector('`+row+` button.start');
				const before = q();
				await loadCampaigns();
				return before !== null && q() === before;
			})()`, chromedp.EvalAwaitPromise))
			if err != nil || !same {
				t.Fatalf("a refresh replaced the campaign's Start button (%v)", err)
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(sctx, step.do)
		cancel()
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s: %v\npage: %s\nconsole: %q", step.name, err, text, problems)
		}
	}

	// The row follows the stream to the final counters.
	want := "completed|4 / 4|3|1|0|0"
	var got string
	deadline := time.Now().Add(45 * time.Second)
	for {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const r = document.querySelector('`+row+`');
			const c = (s) => r.querySelector(s).firstChild.textContent.trim();
			return [c('.status'), c('.done'), c('.answered'), c('.failed'), c('.in-flight'), c('.pending')].join('|');
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		t.Errorf("campaign row: %s, want %s", got, want)
	}

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#providers td.health")), chromedp.WaitVisible(chromedp.CSS("#checks td"))); err != nil {
		t.Fatal(err)
	}
	trunk, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#providers td.health")))
	if err != nil {
		t.Fatal(err)
	}
	checks, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#checks")))
	if err != nil {
		t.Fatal(err)
	}
	if trunk != "up" || !strings.Contains(checks, "esl:fs1") || !strings.Contains(checks, "store") {
		t.Errorf("health panel: trunk %q, checks %q", trunk, checks)
	}
	progress, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('`+row+` progress').position`))
	if err != nil || progress != 1 {
		t.Errorf("progress bar at %v (%v), want 1 (full)", progress, err)
	}
	storage, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Object.keys(sessionStorage).join(',') + '|' + localStorage.length`))
	if err != nil || storage != "dialerd.token|0" {
		t.Errorf("storage holds %q (%v), want only the session token", storage, err)
	}

	// Start and stop the second campaign from its buttons.
	row2 := fmt.Sprintf(`#campaigns tr[data-campaign="%d"]`, second)
	for _, step := range []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"start the second campaign", chromedp.Click(chromedp.CSS(row2 + " button.start"))},
		{"see it active with its call in flight", chromedp.Poll[chromedp.Void](`document.querySelector('` + row2 + ` .in-flight').textContent === '1'`)},
		{"stop it", chromedp.Click(chromedp.CSS(row2 + " button.stop"))},
		{"see it stopped", chromedp.Poll[chromedp.Void](`document.querySelector('` + row2 + ` .status').firstChild.textContent === 'stopped'`)},
	} {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(sctx, step.do)
		cancel()
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage: %s", step.name, err, text)
		}
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("DIALERD_UI_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shotPath := filepath.Join(dir, "live-page.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shotPath, len(shot))

	cancel()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("page: %s", p)
	}
}
