package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

// These tests hold issue 7's promises with the real engine behind GET /ws:
// the engine dials through the in-memory gateway on a fake clock, publishes
// on the bus the server streams and measures, and the store is SQLite in
// t.TempDir(). The clock is advanced a simulated second at a time and each
// step waits until the reading clients have what was published in it, as a
// dashboard keeps up with real pacing; simulated minutes take milliseconds.

// liveEngineEnv is an engineEnv whose server streams the engine's bus.
type liveEngineEnv struct {
	*engineEnv
	ws       *liveEnv // websocket dialing
	bus      *dialer.Bus
	tap      *eventTap
	provider int64
	tick     time.Duration // the clock's step between two catch-ups
}

func newLiveEngineEnv(t *testing.T, live LiveConfig, script memgateway.Script) *liveEngineEnv {
	t.Helper()
	bus := dialer.NewBus()
	// The tap subscribes before anything is published: it is the record of
	// what the engine said, in the order it said it.
	tap := newEventTap(bus)
	t.Cleanup(tap.close)
	p := startEngineParts(t, script, bus)
	db, es, eng, clk, gw, path, tenant := p.db, p.es, p.eng, p.clk, p.gw, p.path, p.tenant
	// One clock for the whole daemon, as in production: the server's
	// (tokens, metrics' CPM window, progress pacing) is the engine's.
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10,
		PasswordCost: bcrypt.MinCost, Live: live, Now: clk.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Contacts: db, Groups: db, Programs: db, Transmissions: db, Campaigns: db, Engine: eng, Events: bus,
			Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	srv.Start(t.Context())
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	e := &env{t: t, srv: srv, http: hs, db: db}
	e.admin = e.login("admin", adminPassword)
	ee := &engineEnv{env: e, es: es, eng: eng, clk: clk, gw: gw, f: dialertest.NewFixtures(t, path), tenant: tenant}
	provider := ee.f.Provider(tenant, 1, "trunk", dialer.ServiceVoice, 10, 0, "")
	return &liveEngineEnv{engineEnv: ee, ws: &liveEnv{env: e, bus: bus}, bus: bus, tap: tap, provider: provider, tick: time.Second}
}

// eventTap records every event published on a bus.
type eventTap struct {
	sub  *dialer.Subscription
	done chan struct{}
	mu   sync.Mutex
	evs  []dialer.Event // only appended to
}

func newEventTap(bus *dialer.Bus) *eventTap {
	tp := &eventTap{sub: bus.Subscribe(1 << 16), done: make(chan struct{})}
	go func() {
		defer close(tp.done)
		for ev := range tp.sub.C() {
			tp.mu.Lock()
			tp.evs = append(tp.evs, ev)
			tp.mu.Unlock()
		}
	}()
	return tp
}

func (tp *eventTap) close() { tp.sub.Close(); <-tp.done }

// events waits until the tap holds everything bus has published and
// returns it; the caller must not modify it.
func (tp *eventTap) events(t testing.TB, bus *dialer.Bus) []dialer.Event {
	t.Helper()
	var evs []dialer.Event
	waitFor(t, "the tap to read the bus", func() bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		evs = tp.evs[:len(tp.evs):len(tp.evs)]
		return uint64(len(evs)) == bus.Published()
	})
	if d := tp.sub.Dropped(); d != 0 {
		t.Fatalf("the tap dropped %d events", d)
	}
	return evs
}

// wsLog is a websocket client that reads everything it is sent.
type wsLog struct {
	conn    *websocket.Conn
	viewer  dialer.Actor // whose view of the stream it should get
	mu      sync.Mutex
	raw     []string // each message as received
	evs     []dialer.Event
	err     error // why reading ended
	stopped chan struct{}

	// What catchUp has checked so far: tap events considered, what they
	// owe this client, and how far the client's messages match them.
	tapSeen      int
	wantEach     []string
	wantProgress []string
	checked      int // messages
	each, prog   int // positions in wantEach and wantProgress
}

func readStream(conn *websocket.Conn, viewer dialer.Actor) *wsLog {
	l := &wsLog{conn: conn, viewer: viewer, stopped: make(chan struct{})}
	go func() {
		defer close(l.stopped)
		for {
			_, data, err := conn.ReadMessage()
			var ev dialer.Event
			if err == nil {
				err = json.Unmarshal(data, &ev)
			}
			l.mu.Lock()
			if err != nil {
				l.err = err
				l.mu.Unlock()
				return
			}
			l.raw = append(l.raw, string(data))
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *wsLog) snapshot() ([]string, []dialer.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw[:len(l.raw):len(l.raw)], l.evs[:len(l.evs):len(l.evs)], l.err
}

// owed is whether the stream owes viewer ev: its tenant's events, and only
// its own resources' unless it is an admin.
func owed(viewer dialer.Actor, ev dialer.Event) bool {
	return ev.TenantID == viewer.TenantID && (viewer.Admin || ev.OwnerID == viewer.UserID)
}

func encoded(t testing.TB, ev dialer.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// catchUp waits until each client has received every event owed to it so
// far, then checks it got exactly those, byte for byte and in the order
// published — except campaign.progress, which the hub may coalesce: those
// it got must be published ones, in order.
func (le *liveEngineEnv) catchUp(clients ...*wsLog) {
	le.t.Helper()
	all := le.tap.events(le.t, le.bus)
	for _, c := range clients {
		for _, ev := range all[c.tapSeen:] {
			switch {
			case !owed(c.viewer, ev):
			case ev.Type == dialer.EventCampaignProgress:
				c.wantProgress = append(c.wantProgress, encoded(le.t, ev))
			default:
				c.wantEach = append(c.wantEach, encoded(le.t, ev))
			}
		}
		c.tapSeen = len(all)
		var raw []string
		var got []dialer.Event
		waitFor(le.t, fmt.Sprintf("user %d's client to receive %d events", c.viewer.UserID, len(c.wantEach)), func() bool {
			var err error
			raw, got, err = c.snapshot()
			for ; c.checked < len(got); c.checked++ {
				k := c.checked
				if got[k].Type == dialer.EventCampaignProgress {
					for c.prog < len(c.wantProgress) && c.wantProgress[c.prog] != raw[k] {
						c.prog++
					}
					if c.prog == len(c.wantProgress) {
						le.t.Fatalf("user %d's client got progress %s, not published or out of order", c.viewer.UserID, raw[k])
					}
					c.prog++
					continue
				}
				if c.each >= len(c.wantEach) {
					le.t.Fatalf("user %d's client got %s, more than was published for it", c.viewer.UserID, raw[k])
				}
				if want := c.wantEach[c.each]; raw[k] != want {
					le.t.Fatalf("user %d's client's event %d is\n%s\nwant\n%s", c.viewer.UserID, c.each, raw[k], want)
				}
				c.each++
			}
			if c.each < len(c.wantEach) && err != nil {
				le.t.Fatalf("user %d's client stopped reading: %v", c.viewer.UserID, err)
			}
			return c.each == len(c.wantEach)
		})
	}
}

// step advances the engine's clock by d, le.tick at a time, letting the
// clients catch up after each tick.
func (le *liveEngineEnv) step(d time.Duration, clients ...*wsLog) {
	le.t.Helper()
	for ; d > 0; d -= le.tick {
		le.run(min(d, le.tick))
		le.catchUp(clients...)
	}
}

// runUntilCompleted steps until the campaign completes, at most limit.
func (le *liveEngineEnv) runUntilCompleted(campaign int64, limit time.Duration, clients ...*wsLog) dialer.Event {
	le.t.Helper()
	seen := 0
	for start := le.clk.Now(); le.clk.Now().Sub(start) < limit; {
		le.step(le.tick, clients...)
		all := le.tap.events(le.t, le.bus)
		for _, ev := range all[seen:] {
			if ev.Type == dialer.EventCampaignCompleted && ev.CampaignID == campaign {
				return ev
			}
		}
		seen = len(all)
	}
	le.t.Fatalf("campaign %d did not complete within %s", campaign, limit)
	return dialer.Event{}
}

// actorOfToken is the identity the stream knows a token by.
func (le *liveEngineEnv) actorOfToken(token string) dialer.Actor {
	le.t.Helper()
	a, err := le.srv.tokens.actor(le.t.Context(), token)
	if err != nil {
		le.t.Fatal(err)
	}
	return a
}

// waitFor polls ok until it holds, failing after a few seconds.
func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// checkLifecycles checks that each transmission's events follow its life
// cycle and returns each transmission's last status. Per try: spool.initiated,
// then transmission.status processing, then the call's progress (ringing,
// answered, dtmf after the answer), then spool.ended, then the
// transmission's new status; pending starts another try, any other status
// is the end. All of one try carry the same spool. An answered spool must
// end completed, and a completed one must have been answered.
func checkLifecycles(t *testing.T, evs []dialer.Event) map[int64]string {
	t.Helper()
	type life struct {
		stage    string // "", initiated, processing, ended, closed
		spool    int64
		answered bool
		last     string
	}
	lives := map[int64]*life{}
	for _, ev := range evs {
		if ev.TransmissionID == 0 {
			continue
		}
		l := lives[ev.TransmissionID]
		if l == nil {
			l = &life{}
			lives[ev.TransmissionID] = l
		}
		bad := func(why string) {
			t.Helper()
			t.Fatalf("transmission %d: %s %s (spool %d) %s; stage %q", ev.TransmissionID, ev.Type, ev.Status, ev.SpoolID, why, l.stage)
		}
		if l.stage != "" && ev.SpoolID != l.spool {
			bad(fmt.Sprintf("in the try of spool %d", l.spool))
		}
		switch ev.Type {
		case dialer.EventSpoolInitiated:
			if l.stage != "" {
				bad("before the previous try ended")
			}
			*l = life{stage: "initiated", spool: ev.SpoolID}
		case dialer.EventTransmissionStatus:
			switch {
			case l.stage == "initiated" && ev.Status == string(dialer.TransmissionProcessing):
				l.stage = "processing"
			case l.stage == "ended" && ev.Status == string(dialer.TransmissionPending):
				l.stage = ""
			case l.stage == "ended" && ev.Status != string(dialer.TransmissionProcessing):
				l.stage = "closed"
			default:
				bad("out of order")
			}
			l.last = ev.Status
		case dialer.EventSpoolRinging:
			if l.stage != "processing" || l.answered {
				bad("out of order")
			}
		case dialer.EventSpoolAnswered:
			if l.stage != "processing" || l.answered {
				bad("out of order")
			}
			l.answered = true
		case dialer.EventSpoolDTMF:
			if l.stage != "processing" || !l.answered {
				bad("before the answer")
			}
		case dialer.EventSpoolEnded:
			if l.stage != "processing" {
				bad("out of order")
			}
			if l.answered != (ev.Status == string(dialer.SpoolCompleted)) {
				bad(fmt.Sprintf("answered: %v", l.answered))
			}
			l.stage = "ended"
		default:
			bad("unexpected for a transmission")
		}
	}
	last := map[int64]string{}
	for id, l := range lives {
		if l.stage != "closed" {
			t.Errorf("transmission %d's events end at stage %q", id, l.stage)
		}
		last[id] = l.last
	}
	return last
}

// scrape reads /metrics as series (name and labels as written) to value.
func (e *env) scrape() map[string]float64 {
	e.t.Helper()
	r := e.expect(e.do("GET", "/metrics", "", nil), 200)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series returns the series of one metric, keyed by their labels.
func series(m map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, name); ok && (rest == "" || rest[0] == '{') {
			out[rest] = v
		}
	}
	return out
}

func TestLiveEngineCampaignStream(t *testing.T) {
	le := newLiveEngineEnv(t, LiveConfig{}, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 4 * time.Second, DTMF: "7"})
	aliceID, alice := le.createUser("alice", nil)

	// Alice's contacts, group, program and campaign, through the API. The
	// numbers follow six scripts: answered, busy then answered, rejected
	// (final), busy twice (out of tries), unallocated (invalid), answered.
	const n = 30
	var csv strings.Builder
	csv.WriteString("first_name,phone\r\n")
	for i := range n {
		phone := fmt.Sprintf("+1415555%04d", 100+i)
		fmt.Fprintf(&csv, "c%d,%s\r\n", i, phone)
		busy := memgateway.Script{Kind: memgateway.Busy, Ring: 2 * time.Second}
		switch i % 6 {
		case 1:
			le.gw.Script(phone, busy, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 3 * time.Second, DTMF: "12"})
		case 2:
			le.gw.Script(phone, memgateway.Script{Kind: memgateway.Fail, Ring: time.Second, Cause: "CALL_REJECTED"})
		case 3:
			le.gw.Script(phone, busy)
		case 4:
			le.gw.Script(phone, memgateway.Script{Kind: memgateway.Fail, Cause: "UNALLOCATED_NUMBER"})
		}
	}
	group := le.createGroup(alice, "live")
	if res := le.importCSV(alice, group, "", []byte(csv.String()), "text/csv", 200); res.Imported != n {
		t.Fatalf("imported %+v", res)
	}
	program := le.id(le.expect(le.do("POST", "/programs/voicetts", alice, map[string]any{"name": "hello", "text": "Hello."}), 200), "program_id")
	campaign := le.id(le.expect(le.do("POST", "/campaigns", alice, map[string]any{"program_id": program, "group_id": group,
		"cpm": 60, "try_allowed": 2, "retry_delay": 10}), 200), "campaign_id")
	path := fmt.Sprintf("/campaigns/%d", campaign)

	// Alice, who owns it, and the admin watch with ?token=.
	admin := readStream(le.ws.mustDial(le.admin), le.actorOfToken(le.admin))
	mine := readStream(le.ws.mustDial(alice), le.actorOfToken(alice))
	if mine.viewer.Admin || mine.viewer.UserID != aliceID {
		t.Fatalf("alice is %+v", mine.viewer)
	}

	le.expect(le.do("PUT", path+"/start", alice, nil), 200)
	le.step(10*time.Second, admin, mine)
	// While it runs: its achieved CPM is served, over the engine's minute.
	running := le.scrape()
	cpm, ok := series(running, "dialerd_campaign_cpm")[fmt.Sprintf(`{campaign_id="%d"}`, campaign)]
	if !ok || cpm < 5 || cpm > 60 {
		t.Errorf("dialerd_campaign_cpm while running: %v (present %v), want the ~11 originations of its first 10 s", cpm, ok)
	}
	done := le.runUntilCompleted(campaign, 10*time.Minute, admin, mine)
	le.sync()

	all := le.tap.events(t, le.bus)
	for _, ev := range all {
		if ev.OwnerID == 0 {
			t.Errorf("%s of transmission %d (spool %d) has no owner: non-admins never see it", ev.Type, ev.TransmissionID, ev.SpoolID)
		}
		if strings.HasPrefix(string(ev.Type), "spool.") && (ev.ProviderID != le.provider) {
			t.Errorf("%s of spool %d names provider %d, want %d", ev.Type, ev.SpoolID, ev.ProviderID, le.provider)
		}
	}

	// Every transmission's events, in a valid order, as each client saw them.
	var c dialer.Campaign
	le.expect(le.do("GET", path, alice, nil), 200).json(t, &c)
	storeStatus := le.f.Pairs(`SELECT transmission_id, status FROM transmissions WHERE campaign_id = ?`, campaign)
	for _, cl := range []*wsLog{admin, mine} {
		_, got, _ := cl.snapshot()
		var ofCampaign []dialer.Event
		for _, ev := range got {
			if ev.CampaignID == campaign {
				ofCampaign = append(ofCampaign, ev)
			}
		}
		if len(ofCampaign) == 0 || ofCampaign[0].Type != dialer.EventCampaignStarted {
			t.Fatalf("user %d: the campaign's first event is not campaign.started", cl.viewer.UserID)
		}
		if last := ofCampaign[len(ofCampaign)-1]; last.Type != dialer.EventCampaignCompleted {
			t.Fatalf("user %d: the campaign's last event is %s, want campaign.completed", cl.viewer.UserID, last.Type)
		}
		final := ofCampaign[len(ofCampaign)-2]
		if final.Type != dialer.EventCampaignProgress || final.Counters == nil {
			t.Fatalf("user %d: campaign.completed follows %s, want the final campaign.progress", cl.viewer.UserID, final.Type)
		}
		want := c.Counters
		if *final.Counters != want {
			t.Errorf("user %d: final progress %+v, GET %s says %+v", cl.viewer.UserID, *final.Counters, path, want)
		}
		last := checkLifecycles(t, ofCampaign)
		if len(last) != len(storeStatus) {
			t.Errorf("user %d saw %d transmissions, the store holds %d", cl.viewer.UserID, len(last), len(storeStatus))
		}
		for id, st := range storeStatus {
			if last[id] != st {
				t.Errorf("user %d: transmission %d's last status %q, the store says %q", cl.viewer.UserID, id, last[id], st)
			}
		}
		answered := map[int64]bool{}
		for _, ev := range ofCampaign {
			if ev.Type == dialer.EventSpoolAnswered {
				answered[ev.SpoolID] = true
			}
		}
		if len(answered) != 15 {
			t.Errorf("user %d saw %d answers, want 15", cl.viewer.UserID, len(answered))
		}
	}

	// The counters: the final progress, GET /campaigns/{id} and the store agree.
	want := dialer.CampaignCounters{Total: n, Done: n, Answered: 15, Failed: 15}
	if c.Status != dialer.CampaignCompleted || c.Counters != want {
		t.Errorf("GET %s: %s %+v, want completed %+v", path, c.Status, c.Counters, want)
	}
	fromStore := dialer.CampaignCounters{
		Total:    le.f.Int(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ?`, campaign),
		Done:     le.f.Int(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status IN ('completed', 'failed', 'invalid')`, campaign),
		Answered: le.f.Int(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'completed'`, campaign),
		Failed:   le.f.Int(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status IN ('failed', 'invalid')`, campaign),
	}
	if fromStore != want {
		t.Errorf("the store counts %+v, want %+v", fromStore, want)
	}

	// Progress pacing follows the server's clock: about one a second of it
	// while the campaign runs, never a flood, and the final counters last.
	_, got, _ := admin.snapshot()
	progress := 0
	for _, ev := range got {
		if ev.Type == dialer.EventCampaignProgress && ev.CampaignID == campaign {
			progress++
		}
	}
	started := all[0].At
	for _, ev := range all {
		if ev.Type == dialer.EventCampaignStarted {
			started = ev.At
		}
	}
	secs := int(done.At.Sub(started) / time.Second)
	if progress < secs/2 || progress > secs+2 {
		t.Errorf("the admin got %d campaign.progress over %d s of the server's clock, want about one a second", progress, secs)
	}

	// The metrics: attempts by outcome as the store's spools, no channel
	// left in use, the finished campaign's CPM gone, no event missed.
	wantAttempts := map[string]float64{}
	rows, err := le.rawSpoolOutcomes()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rows {
		wantAttempts[k] = v
	}
	var after map[string]float64
	waitFor(t, "the metrics to count every attempt", func() bool {
		after = le.scrape()
		return fmt.Sprint(withoutFault(t, series(after, "dialerd_attempts_total"))) == fmt.Sprint(wantAttempts)
	})
	if sum := float64(le.f.Int(`SELECT COUNT(*) FROM spools`)); sum != 5+10+5+10+5+5 {
		t.Errorf("%v spools, want 40", sum)
	}
	for labels, v := range series(after, "dialerd_channels_in_use") {
		if v != 0 {
			t.Errorf("dialerd_channels_in_use%s = %v at the end", labels, v)
		}
	}
	if _, ok := series(after, "dialerd_channels_in_use")[fmt.Sprintf(`{node="",provider="%d"}`, le.provider)]; !ok {
		t.Errorf("no dialerd_channels_in_use series for provider %d", le.provider)
	}
	if v, ok := series(after, "dialerd_campaign_cpm")[fmt.Sprintf(`{campaign_id="%d"}`, campaign)]; ok {
		t.Errorf("a completed campaign still has a CPM of %v", v)
	}
	if v := after["dialerd_metrics_events_dropped_total"]; v != 0 {
		t.Errorf("the metrics missed %v events", v)
	}
	if v := after["dialerd_spool_answer_seconds_count"]; v != 15 {
		t.Errorf("dialerd_spool_answer_seconds_count = %v, want 15", v)
	}
}

// withoutFault sums attempts series over their fault label, which the store
// does not keep, after checking that it is one of the bounded set.
func withoutFault(t *testing.T, m map[string]float64) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for labels, v := range m {
		i := strings.Index(labels, `fault="`)
		if i < 0 {
			t.Fatalf("attempts series %s has no fault label", labels)
		}
		j := i + len(`fault="`) + strings.IndexByte(labels[i+len(`fault="`):], '"')
		if f := labels[i+len(`fault="`) : j]; !slices.Contains([]string{"none", "callee", "route", "content", "other"}, f) {
			t.Errorf("attempts series %s: fault %q is outside the bounded set", labels, f)
		}
		out[labels[:i]+labels[j+2:]] += v // fault sorts first: drop `fault="…",`
	}
	return out
}

// rawSpoolOutcomes counts the store's ended spools as dialerd_attempts_total labels them.
func (le *liveEngineEnv) rawSpoolOutcomes() (map[string]float64, error) {
	rows, err := le.rawDB().Query(`SELECT status, response, COUNT(*) FROM spools WHERE status != 'initiated' GROUP BY status, response`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var status, response string
		var n float64
		if err := rows.Scan(&status, &response, &n); err != nil {
			return nil, err
		}
		out[fmt.Sprintf(`{response="%s",status="%s"}`, causeLabel(response), status)] = n
	}
	return out, rows.Err()
}

func TestLiveEngineSlowClientIsDroppedAndPacingHolds(t *testing.T) {
	const (
		calls = 300
		cpm   = 300
		ring  = time.Second
		talk  = 2 * time.Second
	)
	le := newLiveEngineEnv(t, LiveConfig{Queue: 16}, memgateway.Script{Kind: memgateway.Answer, Ring: ring, Talk: talk, DTMF: "7"})
	// A queue of 16 holds what one instant publishes (about ten events),
	// not a simulated second's worth delivered at once.
	le.tick = 100 * time.Millisecond
	contacts := le.f.Contacts(le.tenant, 1, calls, 100)
	group := le.f.Group(le.tenant, 1, contacts...)
	program := le.f.Program(le.tenant, 1, dialer.ProgramVoiceTTS)
	campaign := le.f.Campaign(le.tenant, 1, program, group, cpm, 1, 60)

	// The slow client never reads. Loopback lets the kernel buffer about
	// 4 MB for it (send buffer autotuning, tcp_wmem), some 16,000 events:
	// its socket buffers are made small on both ends, as for a peer far
	// away that stopped reading, so that its queue fills within the run.
	small := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}}
	slow, _, err := small.Dial("ws"+strings.TrimPrefix(le.http.URL, "http")+"/ws?token="+le.admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Close() })
	le.ws.dials++
	waitFor(t, "the slow client to register", func() bool { return le.srv.live.count.Load() == 1 })
	le.srv.live.mu.Lock()
	for c := range le.srv.live.clients {
		err = c.conn.UnderlyingConn().(*net.TCPConn).SetWriteBuffer(4096)
	}
	le.srv.live.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	fast := readStream(le.ws.mustDial(le.admin), le.actorOfToken(le.admin))

	le.expect(le.do("PUT", fmt.Sprintf("/campaigns/%d/start", campaign), le.admin, nil), 200)
	start := le.clk.Now()
	done := le.runUntilCompleted(campaign, 10*time.Minute, fast)

	// On time: originations every 60/cpm s exactly, the last call's end
	// completing the campaign.
	interval := time.Minute / cpm
	recs := le.gw.Records()
	if len(recs) != calls {
		t.Fatalf("%d calls placed, want %d", len(recs), calls)
	}
	for i, r := range recs {
		if want := start.Add(time.Duration(i) * interval); !r.Start.Equal(want) {
			t.Fatalf("call %d placed at +%s, want +%s", i, r.Start.Sub(start), want.Sub(start))
		}
	}
	if want := start.Add((calls-1)*interval + ring + talk); !done.At.Equal(want) {
		t.Errorf("the campaign completed at +%s, want +%s", done.At.Sub(start), want.Sub(start))
	}

	// The reading client got every event (catchUp checked each step), the
	// final counters last; the other was dropped, with the reason when the
	// close frame got through.
	_, got, _ := fast.snapshot()
	if n := len(got); n < 2 || got[n-1].Type != dialer.EventCampaignCompleted || got[n-2].Counters == nil ||
		*got[n-2].Counters != (dialer.CampaignCounters{Total: calls, Done: calls, Answered: calls}) {
		t.Errorf("the reader's stream does not end with the final counters and campaign.completed: %v", got[max(0, n-2):])
	}
	if got := le.srv.live.evicted.Load(); got != 1 {
		t.Errorf("%d clients evicted, want the slow one", got)
	}
	if got := le.srv.live.count.Load(); got != 1 {
		t.Errorf("%d clients connected at the end, want only the reader", got)
	}
	m := le.scrape()
	if v := m["dialerd_ws_evicted_total"]; v != 1 {
		t.Errorf("dialerd_ws_evicted_total = %v", v)
	}
	// The pacing held, and the engine says so.
	if v, ok := m["dialerd_engine_behind_seconds"]; !ok || v > engineFirstLag.Seconds() {
		t.Errorf("dialerd_engine_behind_seconds = %v (exported: %v)", v, ok)
	}
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := 0
	for err == nil {
		_, _, err = slow.ReadMessage()
		read++
	}
	var ce *websocket.CloseError
	// 1006 is gorilla's word for "no close frame came": the reason is
	// checked only when one did (the frame may not fit the full buffers).
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure && (ce.Code != websocket.ClosePolicyViolation || ce.Text != closeTooSlow) {
		t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, websocket.ClosePolicyViolation, closeTooSlow)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("the slow client was never disconnected")
	}
	t.Logf("the slow client held %d events before its end (%v); the reader got all %d", read-1, err, len(got))
}

func TestLiveRefusesExpiredTokenAndInactiveUser(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	carolID, carol := e.createUser("carol", nil)
	_, dave := e.createUser("dave", nil)
	refused := func(name string, header http.Header, path string) {
		t.Helper()
		_, res, err := e.dial(path, header)
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || code != http.StatusUnauthorized {
			t.Errorf("%s: err %v, status %d; want a refused upgrade with 401", name, err, code)
		}
	}
	// Both work at first.
	for _, tok := range []string{carol, dave} {
		if _, _, err := e.dial("/ws?token="+tok, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.expect(e.do("PUT", fmt.Sprintf("/users/%d", carolID), e.admin, map[string]any{"active": 0}), 200)
	refused("deactivated user, query", nil, "/ws?token="+carol)
	refused("deactivated user, header", http.Header{"Authorization": {"Bearer " + carol}}, "/ws")

	e.clock.Add(time.Hour + time.Second) // the token TTL
	refused("expired token, query", nil, "/ws?token="+dave)
	refused("expired token, header", http.Header{"Authorization": {"Bearer " + dave}}, "/ws")
}
