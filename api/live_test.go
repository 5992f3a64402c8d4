package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// liveEnv is the API with an event bus behind /ws and /metrics.
type liveEnv struct {
	*env
	bus   *dialer.Bus
	dials int // clients connected with mustDial
}

func newLiveEnv(t testing.TB, live LiveConfig, m MetricsConfig) *liveEnv {
	t.Helper()
	e := newEnv(t)
	bus := dialer.NewBus()
	cfg := e.srv.cfg
	cfg.Live, cfg.Metrics = live, m
	deps := e.srv.deps
	deps.Events = bus
	srv, err := New(cfg, e.srv.log, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	srv.Start(t.Context())
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	e.srv, e.http = srv, hs
	return &liveEnv{env: e, bus: bus}
}

// dial opens a websocket; header may carry a token, or path a ?token=.
func (e *liveEnv) dial(path string, header http.Header) (*websocket.Conn, *http.Response, error) {
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + path
	c, res, err := websocket.DefaultDialer.Dial(url, header)
	if err == nil {
		e.t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

func (e *liveEnv) mustDial(token string) *websocket.Conn {
	e.t.Helper()
	c, _, err := e.dial("/ws?token="+token, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	// Wait until the hub has registered it, so that events published next
	// are not missed by a test.
	e.dials++
	deadline := time.Now().Add(5 * time.Second)
	for {
		if e.srv.live.count.Load() >= int64(e.dials) {
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatal("client never registered")
		}
		time.Sleep(time.Millisecond)
	}
}

// next reads one event, failing after a deadline.
func next(t *testing.T, c *websocket.Conn) dialer.Event {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev dialer.Event
	if err := c.ReadJSON(&ev); err != nil {
		t.Fatalf("read event: %v", err)
	}
	return ev
}

func (e *liveEnv) tenant() string {
	e.t.Helper()
	a, err := e.db.UserByUsername(e.t.Context(), "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	return a.User.TenantID
}

func TestLiveRefusesWithoutValidToken(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	for name, path := range map[string]string{
		"missing": "/ws",
		"wrong":   "/ws?token=not-a-token",
		"forged":  "/ws?token=" + e.admin[:len(e.admin)-3] + "abc",
	} {
		_, res, err := e.dial(path, nil)
		if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusUnauthorized {
			code := 0
			if res != nil {
				code = res.StatusCode
			}
			t.Errorf("%s token: err %v, status %d; want a refused upgrade with 401", name, err, code)
		}
	}
	// The usual header works as well as the query string.
	if _, _, err := e.dial("/ws", http.Header{"Authorization": {"Bearer " + e.admin}}); err != nil {
		t.Errorf("header token: %v", err)
	}
}

func TestLiveFiltersByTenantOwnerAndSubscription(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	tid := e.tenant()
	bobID, bob := e.createUser("bob", nil)
	admin := e.mustDial(e.admin)
	user := e.mustDial(bob)

	events := []dialer.Event{
		{Type: dialer.EventSpoolInitiated, TenantID: "another-tenant", CampaignID: 1, SpoolID: 1, OwnerID: 1},
		{Type: dialer.EventSpoolInitiated, TenantID: tid, CampaignID: 1, SpoolID: 2, OwnerID: 1},     // admin's
		{Type: dialer.EventSpoolInitiated, TenantID: tid, CampaignID: 2, SpoolID: 3, OwnerID: bobID}, // bob's
	}
	for _, ev := range events {
		ev.At = time.Now()
		e.bus.Publish(ev)
	}
	if got := next(t, admin).SpoolID; got != 2 {
		t.Errorf("admin's first event is spool %d, want 2 (never another tenant's)", got)
	}
	if got := next(t, admin).SpoolID; got != 3 {
		t.Errorf("admin's second event is spool %d, want 3", got)
	}
	if got := next(t, user).SpoolID; got != 3 {
		t.Errorf("bob's first event is spool %d, want 3 (only his own)", got)
	}

	// Narrow the admin to campaign 2, then widen again.
	if err := admin.WriteJSON(map[string]any{"subscribe": map[string]any{"campaign_id": 2}}); err != nil {
		t.Fatal(err)
	}
	waitFilter(t, e.srv.live, func(fs []*liveFilter) bool {
		return slices.ContainsFunc(fs, func(f *liveFilter) bool { return f != nil && f.CampaignID == 2 })
	})
	e.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 1, SpoolID: 4, OwnerID: 1})
	e.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 2, SpoolID: 5, OwnerID: 1})
	if got := next(t, admin).SpoolID; got != 5 {
		t.Errorf("narrowed admin got spool %d, want 5", got)
	}
	if err := admin.WriteJSON(map[string]any{"subscribe": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	waitFilter(t, e.srv.live, func(fs []*liveFilter) bool {
		return !slices.ContainsFunc(fs, func(f *liveFilter) bool { return f != nil })
	})
	e.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 1, SpoolID: 6, OwnerID: 1})
	if got := next(t, admin).SpoolID; got != 6 {
		t.Errorf("widened admin got spool %d, want 6", got)
	}
}

// TestLiveCampaignBlockedGoesToItsOwnerAndAdmins: campaign.blocked and
// campaign.unblocked reach the campaign's owner and the tenant's admins,
// with the reason, the field to fix and whose fault it is, and nobody else.
func TestLiveCampaignBlockedGoesToItsOwnerAndAdmins(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	tid := e.tenant()
	bobID, bob := e.createUser("bob", nil)
	carolID, carol := e.createUser("carol", nil)
	conns := map[string]*websocket.Conn{"admin": e.mustDial(e.admin), "bob": e.mustDial(bob), "carol": e.mustDial(carol)}
	now := time.Now()
	e.bus.Publish(dialer.Event{Type: dialer.EventCampaignBlocked, TenantID: tid, CampaignID: 4, OwnerID: bobID, At: now,
		Response: "no active provider serves voice", Field: "service_flag", Fault: "route"})
	e.bus.Publish(dialer.Event{Type: dialer.EventCampaignUnblocked, TenantID: tid, CampaignID: 4, OwnerID: bobID, At: now})
	e.bus.Publish(dialer.Event{Type: dialer.EventCampaignStarted, TenantID: tid, CampaignID: 5, OwnerID: carolID, At: now})
	for _, who := range []string{"admin", "bob"} {
		ev := next(t, conns[who])
		if ev.Type != dialer.EventCampaignBlocked || ev.CampaignID != 4 || ev.Response != "no active provider serves voice" ||
			ev.Field != "service_flag" || ev.Fault != "route" {
			t.Errorf("%s's first event %+v, want campaign 4 blocked naming service_flag", who, ev)
		}
		if ev := next(t, conns[who]); ev.Type != dialer.EventCampaignUnblocked || ev.CampaignID != 4 {
			t.Errorf("%s's second event %+v, want campaign 4 unblocked", who, ev)
		}
	}
	if ev := next(t, conns["carol"]); ev.Type != dialer.EventCampaignStarted || ev.CampaignID != 5 {
		t.Errorf("carol's first event %+v, want her own campaign 5 (never bob's blocked one)", ev)
	}
}

// waitFilter waits until the clients' filters satisfy ok.
func waitFilter(t *testing.T, h *hub, ok func([]*liveFilter) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		var fs []*liveFilter
		for c := range h.clients {
			fs = append(fs, c.filter.Load())
		}
		h.mu.Unlock()
		if ok(fs) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the subscription never took effect")
}

func TestLiveDropsSlowClientOnly(t *testing.T) {
	// The queue gives the reading client 128 ms of slack at the rate
	// below, which a loaded CI host's scheduler needs (64 was not enough
	// at a load of 15 on two cores).
	e := newLiveEnv(t, LiveConfig{Queue: 256}, MetricsConfig{})
	tid := e.tenant()
	slow := e.mustDial(e.admin) // never reads
	fast := e.mustDial(e.admin)

	// Big events fill the slow client's socket buffers, then its queue.
	const n = 5000 // 20 MB: more than the slow client's socket buffers and queue hold
	pad := strings.Repeat("x", 4000)
	received := make(chan int, 1)
	go func() {
		count := 0
		_ = fast.SetReadDeadline(time.Now().Add(20 * time.Second))
		for count < n {
			if _, _, err := fast.ReadMessage(); err != nil {
				break
			}
			count++
		}
		received <- count
	}()
	for i := range n {
		e.bus.Publish(dialer.Event{Type: dialer.EventSpoolDTMF, TenantID: tid, SpoolID: int64(i + 1), OwnerID: 1, Digit: "1", Response: pad, At: time.Now()})
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // a steady rate a reading client keeps up with
		}
	}
	if got := <-received; got != n {
		t.Errorf("the fast client received %d of %d events", got, n)
	}
	if e.srv.live.evicted.Load() != 1 {
		t.Fatalf("evicted %d clients, want the slow one", e.srv.live.evicted.Load())
	}
	// The slow client, reading at last, finds its stream closed: with the
	// reason when the close frame got through, or a dead connection.
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err error
	for err == nil {
		_, _, err = slow.ReadMessage()
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && (ce.Code != websocket.ClosePolicyViolation || ce.Text != closeTooSlow) {
		t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, websocket.ClosePolicyViolation, closeTooSlow)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("the slow client was never disconnected")
	}
}

func TestLiveCoalescesProgress(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	tid := e.tenant()
	c := e.mustDial(e.admin)
	for i := 1; i <= 50; i++ {
		e.bus.Publish(dialer.Event{Type: dialer.EventCampaignProgress, TenantID: tid, CampaignID: 7, OwnerID: 1,
			At: time.Now(), Counters: &dialer.CampaignCounters{Done: int64(i)}})
	}
	e.bus.Publish(dialer.Event{Type: dialer.EventCampaignCompleted, TenantID: tid, CampaignID: 7, OwnerID: 1, At: time.Now()})
	first, last, done := next(t, c), next(t, c), next(t, c)
	if first.Counters == nil || first.Counters.Done != 1 {
		t.Errorf("first progress %+v, want the first counters at once", first.Counters)
	}
	if last.Type != dialer.EventCampaignProgress || last.Counters == nil || last.Counters.Done != 50 {
		t.Errorf("second event %s %+v, want the final counters before completion", last.Type, last.Counters)
	}
	if done.Type != dialer.EventCampaignCompleted {
		t.Errorf("third event %s, want campaign.completed", done.Type)
	}
}

func TestLiveConnectionCapAndShutdown(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{MaxClients: 1}, MetricsConfig{})
	c := e.mustDial(e.admin)
	if _, res, err := e.dial("/ws?token="+e.admin, nil); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a client over the cap: err %v; want 503", err)
	}
	e.srv.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("on shutdown: %v, want close 1001", err)
	}
}

func TestMetricsAccessAndContent(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	tid := e.tenant()
	now := time.Now()
	for _, ev := range []dialer.Event{
		{Type: dialer.EventSpoolInitiated, TenantID: tid, CampaignID: 3, SpoolID: 1, ProviderID: 9, Node: "fs1", At: now},
		{Type: dialer.EventSpoolAnswered, TenantID: tid, CampaignID: 3, SpoolID: 1, At: now.Add(2 * time.Second)},
		{Type: dialer.EventSpoolInitiated, TenantID: tid, CampaignID: 3, SpoolID: 2, ProviderID: 9, Node: "fs1", At: now},
		{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 3, SpoolID: 1, Status: "completed", Response: "NORMAL_CLEARING", At: now},
		{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 3, SpoolID: 9, Status: "failed", Response: "weird response!", Fault: "callee", At: now},
		{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 3, SpoolID: 10, Status: "failed", Response: "CONTENT_ERROR", Fault: "content", At: now},
		{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 3, SpoolID: 11, Status: "failed", Response: "CONTENT_ERROR", Fault: "a new kind of fault", At: now},
		// Campaign 3 blocked by its content; 4 blocked on its route, then
		// unblocked; 5 blocked twice (one campaign), then stopped.
		{Type: dialer.EventCampaignBlocked, TenantID: tid, CampaignID: 3, Response: "the gateway refuses the text", Field: "text", Fault: "content", At: now},
		{Type: dialer.EventCampaignBlocked, TenantID: tid, CampaignID: 4, Response: "no provider serves voice", Field: "service_flag", Fault: "route", At: now},
		{Type: dialer.EventCampaignUnblocked, TenantID: tid, CampaignID: 4, At: now},
		{Type: dialer.EventCampaignBlocked, TenantID: tid, CampaignID: 5, Response: "no provider serves voice", Fault: "route", At: now},
		{Type: dialer.EventCampaignBlocked, TenantID: tid, CampaignID: 5, Response: "no gateway for gateway_flag 8", Field: "sip.listen", Fault: "route", At: now},
		{Type: dialer.EventCampaignStopped, TenantID: tid, CampaignID: 5, At: now},
	} {
		e.bus.Publish(ev)
	}
	want := []string{
		`dialerd_attempts_total{fault="none",response="NORMAL_CLEARING",status="completed"} 1`,
		`dialerd_attempts_total{fault="callee",response="other",status="failed"} 1`,
		`dialerd_attempts_total{fault="content",response="CONTENT_ERROR",status="failed"} 1`,
		`dialerd_attempts_total{fault="other",response="CONTENT_ERROR",status="failed"} 1`,
		`dialerd_campaigns_blocked{fault="content"} 1`,
		`dialerd_campaigns_blocked{fault="route"} 0`,
		`dialerd_channels_in_use{node="fs1",provider="9"} 1`,
		`dialerd_campaign_cpm{campaign_id="3"} 2`,
		`dialerd_spool_answer_seconds_count 1`,
		`dialerd_ws_clients 0`,
		`dialerd_http_request_duration_seconds_count{code="200",method="GET",route="/healthz"}`,
	}
	e.do("GET", "/healthz", "", nil)
	deadline := time.Now().Add(5 * time.Second)
	var body string
	for {
		body = string(e.expect(e.do("GET", "/metrics", "", nil), 200).Body)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, grepLines(body, "dialerd_"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// /readyz shows the blocked campaign, and stays ready.
	var ready struct {
		Status string
		Checks map[string]string
	}
	e.expect(e.do("GET", "/readyz", "", nil), 200).json(t, &ready)
	if ready.Status != "ready" || ready.Checks["campaigns"] != "1 blocked: campaign 3 (content: text)" {
		t.Errorf("/readyz answered %+v", ready)
	}

	tok := newLiveEnv(t, LiveConfig{}, MetricsConfig{Access: MetricsToken, Token: "scrape-secret"})
	tok.expect(tok.do("GET", "/metrics", "", nil), 403)
	tok.expect(tok.do("GET", "/metrics", "wrong", nil), 403)
	tok.expect(tok.do("GET", "/metrics", "scrape-secret", nil), 200)
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetricsLoopbackOnly(t *testing.T) {
	m := &metrics{cfg: MetricsConfig{Access: MetricsLoopback}}
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "10.0.0.8:5000": false, "192.0.2.1:80": false, "garbage": false,
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "127.0.0.1") // never trusted
		if got := m.allowed(&gin.Context{Request: r}); got != want {
			t.Errorf("%s: allowed %v, want %v", addr, got, want)
		}
	}
}

func TestLiveEventJSONShape(t *testing.T) {
	b, _ := json.Marshal(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: "t", CampaignID: 1, TransmissionID: 2, SpoolID: 3, OwnerID: 99, Status: "completed", Response: "NORMAL_CLEARING"})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"type", "at", "tenant_id", "campaign_id", "transmission_id", "spool_id", "status", "response"} {
		if _, ok := m[k]; !ok {
			t.Errorf("event JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := m["OwnerID"]; ok {
		t.Errorf("event JSON leaks the owner: %s", b)
	}
}
