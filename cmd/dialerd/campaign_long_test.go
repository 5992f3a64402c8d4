package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/mail/mailtest"
)

// The 1,000-message campaigns of issue 15 run a minute each: they run only
// with DIALERD_LONG_MESSAGING=1, one at a time:
//
//	DIALERD_LONG_MESSAGING=1 go test ./cmd/dialerd -run 'TestCampaign1000' -v -timeout 10m
//
// Each reports the rate its peer saw (first to last message) against the
// campaign's CPM, and fails beyond 1 %, or when any transmission is not
// completed (a sendsms one completes only on Kannel's "delivered" report).
const (
	longMessages = 1000
	longCPM      = 1200
)

func longMessaging(t *testing.T) {
	if os.Getenv("DIALERD_LONG_MESSAGING") == "" {
		t.Skip("a 1,000-message campaign takes about a minute: set DIALERD_LONG_MESSAGING=1")
	}
}

// campaign imports a group from csv, runs program over it at longCPM and
// waits until every transmission is done; it returns the completed ones.
func (a *client) campaign(program int64, csv string) []int64 {
	a.t.Helper()
	group := a.id("POST", "/groups", map[string]any{"name": "long"}, "group_id")
	req, _ := newRequest("POST", "http://"+a.p.addr+"/groups/"+strconv.FormatInt(group, 10)+"/csv", a.token, "text/csv", csv)
	if code, body := do(a.t, req); code != 200 {
		a.t.Fatalf("CSV import: %d %s", code, body)
	}
	id := a.id("POST", "/campaigns", map[string]any{"program_id": program, "group_id": group, "cpm": longCPM, "try_allowed": 1, "retry_delay": 0}, "campaign_id")
	path := "/campaigns/" + strconv.FormatInt(id, 10)
	if code, body := a.p.call(a.t, "PUT", path+"/start", a.token, nil); code != 200 {
		a.t.Fatalf("start: %d %s", code, body)
	}
	deadline := time.Now().Add(3*time.Minute + longMessages*time.Minute/longCPM)
	for {
		var pending, processing []map[string]any
		a.get("/transmissions?campaign_id="+strconv.FormatInt(id, 10)+"&status=pending&per_page=1", &pending)
		a.get("/transmissions?campaign_id="+strconv.FormatInt(id, 10)+"&status=processing&per_page=1", &processing)
		if len(pending)+len(processing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			a.t.Fatal("the campaign did not finish")
		}
		time.Sleep(time.Second)
	}
	var ids []int64
	for page := 1; ; page++ {
		var done []map[string]any
		a.get(fmt.Sprintf("/transmissions?campaign_id=%d&status=completed&per_page=1000&page=%d", id, page), &done)
		for _, tr := range done {
			ids = append(ids, int64(tr["transmission_id"].(float64)))
		}
		if len(done) < 1000 {
			return ids
		}
	}
}

// peerIDs matches every transmission to what its peer said of it: the
// first submatch of re in its spools and results (the SMTP server's
// queue id, the SMSC's message id in the delivered report). It fails when
// one has none, or two have the same.
func (a *client) peerIDs(transmissions []int64, re *regexp.Regexp) map[string]bool {
	a.t.Helper()
	seen := map[string]int64{}
	for _, id := range transmissions {
		path := "/transmissions/" + strconv.FormatInt(id, 10)
		_, spools := a.p.call(a.t, "GET", path+"/detail", a.token, nil)
		_, results := a.p.call(a.t, "GET", path+"/result", a.token, nil)
		m := re.FindSubmatch(append(spools, results...))
		if m == nil {
			a.t.Errorf("transmission %d: nothing of its peer's matches %s: %s %s", id, re, spools, results)
			continue
		}
		if other, dup := seen[string(m[1])]; dup {
			a.t.Errorf("transmissions %d and %d both carry %s", other, id, m[1])
		}
		seen[string(m[1])] = id
	}
	out := map[string]bool{}
	for k := range seen {
		out[k] = true
	}
	return out
}

func judgeRate(t *testing.T, what string, at []time.Time) {
	t.Helper()
	if len(at) < 2 {
		t.Fatalf("%s: %d messages", what, len(at))
	}
	span := at[len(at)-1].Sub(at[0])
	cpm := float64(len(at)-1) / span.Minutes()
	t.Logf("%s: %d messages in %.2f s: %.1f CPM (target %d, %+.2f %%)", what, len(at), span.Seconds(), cpm, longCPM,
		100*(cpm-longCPM)/longCPM)
	if cpm < 0.99*longCPM || cpm > 1.01*longCPM {
		t.Errorf("%s: %.1f CPM is not within 1 %% of %d", what, cpm, longCPM)
	}
}

func TestCampaign1000SendEmail(t *testing.T) {
	longMessaging(t)
	peer := mailtest.StartSMTP(t, false)
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_PROVIDER_CPS=100")
	a := login(t, p, "admin-password-1")
	a.id("POST", "/providers", map[string]any{"name": "mail", "gateway_flag": 4, "service_flag": 8, "host": "127.0.0.1",
		"port": peer.Port, "settings": `{"tls": "none", "from": "dialer@example.com"}`}, "provider_id")
	tpl := a.id("POST", "/messages/templates", map[string]any{"name": "n", "subject": "Hi {first_name}", "body": "<p>Dear {first_name}</p>", "body_alt": "Dear {first_name}"}, "template_id")
	prog := a.id("POST", "/programs/sendemail", map[string]any{"name": "n", "template_id": tpl}, "program_id")
	var csv strings.Builder
	csv.WriteString("phone,first_name,email\n")
	for i := range longMessages {
		fmt.Fprintf(&csv, "+1415%07d,c%d,c%d@example.org\n", 2000000+i, i, i)
	}
	completed := a.campaign(prog, csv.String())
	if len(completed) != longMessages || peer.Count() != longMessages {
		t.Errorf("%d of %d transmissions completed, the server accepted %d", len(completed), longMessages, peer.Count())
	}
	// Every spool carries the reply of its own message: aiosmtpd queues
	// message n as Qn, so the replies are Q1 … Q1000, each once.
	queued := a.peerIDs(completed, regexp.MustCompile(`250 2\.0\.0 Ok: queued as (Q[0-9]+)`))
	for n := 1; n <= peer.Count(); n++ {
		if !queued[fmt.Sprintf("Q%d", n)] {
			t.Errorf("no spool carries the reply of the server's message Q%d", n)
		}
	}
	judgeRate(t, "sendemail at aiosmtpd", peer.Times())
	p.stop(t, syscall.SIGTERM)
}

func TestCampaign1000Kannel(t *testing.T) {
	longMessaging(t)
	cbPort := mailtest.FreePort(t)
	k := mailtest.StartKannel(t, "http://127.0.0.1:"+strconv.Itoa(cbPort))
	p := startDaemon(t, t.TempDir(), "DIALERD_ADMIN_PASSWORD=admin-password-1", "DIALERD_ENGINE_PROVIDER_CPS=100",
		"DIALERD_KANNEL_LISTEN=127.0.0.1:"+strconv.Itoa(cbPort))
	a := login(t, p, "admin-password-1")
	a.id("POST", "/providers", map[string]any{"name": "kannel", "gateway_flag": 2, "service_flag": 4, "host": "127.0.0.1",
		"port": k.SendsmsPort, "username": "tester", "password": "testpw", "settings": `{"from": "12345"}`}, "provider_id")
	text := a.id("POST", "/messages/texts", map[string]any{"name": "n", "data": "campaign message"}, "text_id")
	prog := a.id("POST", "/programs/sendsms", map[string]any{"name": "n", "text_id": text}, "program_id")
	var csv strings.Builder
	csv.WriteString("phone,first_name\n")
	for i := range longMessages {
		// Numbers ending 01 or 05-99: delivered (the SMSC's rules).
		fmt.Fprintf(&csv, "+1415%05d%02d\n", 30000+i, 10+i%90)
	}
	completed := a.campaign(prog, csv.String())
	subs := k.SMSC.Submitted()
	ids := map[string]bool{}
	var at []time.Time
	for _, s := range subs {
		ids[s.ID] = true
		at = append(at, s.At)
	}
	if len(completed) != longMessages || len(subs) != longMessages || len(ids) != longMessages {
		t.Errorf("%d of %d transmissions completed on a delivered report; the SMSC took %d (%d ids)", len(completed), longMessages, len(subs), len(ids))
	}
	// Every spool carries the delivered report of its own message: the
	// SMSC's ids in the reports are the ids it gave, each once.
	reported := a.peerIDs(completed, regexp.MustCompile(`id:(\S+) sub:\S+ dlvrd:\S+ submit date:[^"]* stat:DELIVRD`))
	for id := range ids {
		if !reported[id] {
			t.Errorf("no spool carries the delivered report of the SMSC's message %s", id)
		}
	}
	judgeRate(t, "sendsms at the SMSC through Kannel", at)
	p.stop(t, syscall.SIGTERM)
}

func newRequest(method, url, token, contentType, body string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	return req, nil
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
