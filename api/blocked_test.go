package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

// serveEngine serves the API over engine parts, streaming bus, with the
// provider, program and message routes, and connects the admin to /ws.
func serveEngine(t *testing.T, p engineParts, bus *dialer.Bus) (*env, *websocket.Conn) {
	t.Helper()
	db := p.db
	files, err := store.OpenFiles(filepath.Join(filepath.Dir(p.path), "media"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10,
		PasswordCost: bcrypt.MinCost, Now: p.clk.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Programs: db, Providers: db, Messages: store.NewMessages(db, files), Transmissions: db, Campaigns: db,
			Engine: p.eng, Events: bus, Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	srv.Start(t.Context())
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	e := &env{t: t, srv: srv, http: hs, db: db}
	e.admin = e.login("admin", adminPassword)
	return e, (&liveEnv{env: e, bus: bus}).mustDial(e.admin)
}

// TestBlockedCampaignSaysWhyAndAProviderFixUnblocksIt is issue 10's silent
// stall: a provider that serves nothing (service_flag 0, the old default,
// written to the store directly as a provider of before this change) leaves
// a started campaign active with all its work pending. Now GET shows it
// blocked naming service_flag within a second, /ws sends campaign.blocked,
// /readyz lists it but stays ready, and a PUT that fixes the provider lets
// the campaign run to its end without a restart. Before: active, pending,
// in_flight 0 for ever; no event; /readyz silent.
func TestBlockedCampaignSaysWhyAndAProviderFixUnblocksIt(t *testing.T) {
	bus := dialer.NewBus()
	p := startEngineParts(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 2 * time.Second}, bus)
	e, ws := serveEngine(t, p, bus)

	f := dialertest.NewFixtures(t, p.path)
	provider := f.Provider(p.tenant, 1, "trunk", 0, 10, 0, "")
	f.Exec(`UPDATE providers SET gateway_flag = ?, type = 'sip' WHERE provider_id = ?`, dialer.GatewayFreeSWITCH, provider)
	program := f.Program(p.tenant, 1, dialer.ProgramVoiceMessage)
	group := f.Group(p.tenant, 1, f.Contacts(p.tenant, 1, 3, 4155550100)...)
	campaign := f.Campaign(p.tenant, 1, program, group, 600, 1, 60)
	path := idPath("/campaigns/%d", campaign)

	type view struct {
		Status   string
		Counters dialer.CampaignCounters
		Blocked  *dialer.Blocked
	}
	get := func() view {
		var v view
		e.expect(e.do("GET", path, e.admin, nil), 200).json(t, &v)
		return v
	}
	if v := get(); v.Blocked != nil {
		t.Fatalf("a new campaign is blocked: %+v", v.Blocked)
	}
	e.expect(e.do("PUT", path+"/start", e.admin, nil), 200)

	// Blocked within a second of the engine's clock, naming the key to fix
	// (real time is given more: the engine reads its store off its loop,
	// and a loaded machine runs the race detector slowly).
	var v view
	waitEngine := func(done func() bool) {
		t.Helper()
		simulated := time.Duration(0)
		for deadline := time.Now().Add(5 * time.Second); !done() && time.Now().Before(deadline); {
			if simulated < time.Second {
				p.clk.Advance(50 * time.Millisecond)
				simulated += 50 * time.Millisecond
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitEngine(func() bool { v = get(); return v.Blocked != nil })
	if v.Blocked == nil || v.Blocked.Field != "service_flag" || v.Blocked.Reason == "" || v.Blocked.Since.IsZero() {
		t.Fatalf("started with a provider that serves nothing: %+v (blocked %+v), want blocked naming service_flag", v, v.Blocked)
	}
	if v.Status != "active" || v.Counters.InFlight != 0 {
		t.Errorf("blocked campaign %+v", v)
	}
	var list []view
	e.expect(e.do("GET", "/campaigns", e.admin, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].Blocked == nil || list[0].Blocked.Field != "service_flag" {
		t.Errorf("the list answers %+v", list)
	}
	// The websocket says so, with the reason.
	for {
		ev := next(t, ws)
		if ev.Type == dialer.EventCampaignBlocked {
			if ev.CampaignID != campaign || ev.Field != "service_flag" || ev.Response == "" || ev.Fault == "" {
				t.Errorf("campaign.blocked %+v", ev)
			}
			break
		}
	}
	// /readyz lists it, and stays ready.
	var ready struct {
		Status string
		Checks map[string]string
	}
	e.expect(e.do("GET", "/readyz", "", nil), 200).json(t, &ready)
	if ready.Status != "ready" || !strings.Contains(ready.Checks["campaigns"], "service_flag") {
		t.Errorf("/readyz %+v", ready)
	}

	// /metrics counts it, by whose fault it is.
	blockedSeries := func() string {
		return grepLines(string(e.expect(e.do("GET", "/metrics", "", nil), 200).Body), "dialerd_campaigns_blocked{")
	}
	if got := blockedSeries(); !strings.Contains(got, `dialerd_campaigns_blocked{fault="`+v.Blocked.Fault+`"} 1`) {
		t.Errorf("/metrics while blocked:\n%s", got)
	}

	// Fix the provider through the API: the campaign unblocks and runs to
	// its end, without a restart.
	// At once: the API tells the engine, which would otherwise see the fix
	// only at its next provider refresh (10 s).
	e.expect(e.do("PUT", idPath("/providers/%d", provider), e.admin, map[string]any{"service_flag": dialer.ServiceVoice}), 200)
	waitEngine(func() bool { v = get(); return v.Blocked == nil })
	if v.Blocked != nil {
		t.Fatalf("a second after the fix the campaign is still blocked: %+v", v.Blocked)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		p.clk.Advance(500 * time.Millisecond)
		if v = get(); v.Status == "completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if v.Status != "completed" || v.Blocked != nil || v.Counters.Answered != 3 {
		b, _ := json.Marshal(v)
		t.Fatalf("after the fix: %s, want completed with 3 answered", b)
	}
	for {
		if ev := next(t, ws); ev.Type == dialer.EventCampaignUnblocked && ev.CampaignID == campaign {
			break
		}
	}
	if got := blockedSeries(); strings.Contains(got, "} 1") {
		t.Errorf("/metrics after the fix:\n%s", got)
	}
	e.expect(e.do("GET", "/readyz", "", nil), 200).json(t, &ready)
	if ready.Checks["campaigns"] != "ok" {
		t.Errorf("/readyz after the fix %+v", ready)
	}
}

// smsRules refuses, as a gateway would, an SMS whose text holds a '|': a
// content fault naming text.
type smsRules struct{ *memgateway.Gateway }

func (g smsRules) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	if strings.Contains(a.Media.Text, "|") {
		return dialer.Outcome{}, dialer.ContentFault("text", errors.New("no | in an SMS"))
	}
	return g.Gateway.Deliver(ctx, a, progress)
}

// TestContentBlockedCampaignIsReleasedByAFixedText: content stored before
// the API checked it reaches a gateway that refuses it. That transmission
// fails final, the campaign is blocked naming the field and waits (its
// other contacts are not spent on the same refusal); a PUT that fixes the
// text releases it at once and it runs to its end. Before: every attempt
// a GATEWAY_ERROR that backed the provider off, the campaign stalled.
func TestContentBlockedCampaignIsReleasedByAFixedText(t *testing.T) {
	bus := dialer.NewBus()
	p := startEngineWith(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: time.Second}, bus,
		func(g *memgateway.Gateway) dialer.Gateway { return smsRules{g} })
	e, ws := serveEngine(t, p, bus)
	f := dialertest.NewFixtures(t, p.path)
	f.Provider(p.tenant, 1, "sms", dialer.ServiceSMS, 10, 0, "")
	text := f.Exec(`INSERT INTO texts (tenant_id, created_by, name, data, created_at, updated_at) VALUES (?, 1, 't', 'a|b', 0, 0)`, p.tenant)
	program := f.Program(p.tenant, 1, dialer.ProgramSendSMS)
	f.Exec(`UPDATE programs SET text_id = ? WHERE program_id = ?`, text, program)
	group := f.Group(p.tenant, 1, f.Contacts(p.tenant, 1, 3, 4155550100)...)
	campaign := f.Campaign(p.tenant, 1, program, group, 600, 1, 60)
	path := idPath("/campaigns/%d", campaign)
	e.expect(e.do("PUT", path+"/start", e.admin, nil), 200)

	type view struct {
		Status   string
		Counters dialer.CampaignCounters
		Blocked  *dialer.Blocked
	}
	var v view
	get := func() view {
		var v view
		e.expect(e.do("GET", path, e.admin, nil), 200).json(t, &v)
		return v
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		p.clk.Advance(100 * time.Millisecond)
		if v = get(); v.Blocked != nil {
			break
		}
	}
	if v.Blocked == nil || v.Blocked.Field != "text" || v.Blocked.Fault != "content" {
		t.Fatalf("a refused text: %+v (blocked %+v), want blocked naming text", v, v.Blocked)
	}
	for {
		if ev := next(t, ws); ev.Type == dialer.EventCampaignBlocked {
			if ev.Field != "text" || ev.Fault != "content" {
				t.Errorf("campaign.blocked %+v", ev)
			}
			break
		}
	}
	// It waits: a content block holds until the content changes.
	p.clk.Advance(time.Minute)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if v = get(); v.Counters.Failed == 1 { // the engine records off the request's path
			break
		}
	}
	if v.Blocked == nil || v.Counters.Failed != 1 || v.Counters.Pending != 2 {
		t.Errorf("a minute later: %+v (blocked %+v), want still blocked with 1 failed and 2 pending", v, v.Blocked)
	}

	e.expect(e.do("PUT", idPath("/messages/texts/%d", text), e.admin, map[string]any{"data": "See you at 10."}), 200)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.clk.Advance(500 * time.Millisecond)
		if v = get(); v.Status == "completed" {
			break
		}
	}
	if v.Status != "completed" || v.Blocked != nil || v.Counters.Answered != 2 || v.Counters.Failed != 1 {
		t.Fatalf("after the fix: %+v (blocked %+v), want completed, 2 sent and the refused one failed", v, v.Blocked)
	}
}
