package store

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
)

type engineFixture struct {
	db     *DB
	es     *EngineStore
	f      *dialertest.Fixtures
	tenant string
	owner  int64
}

func newEngineFixture(t *testing.T) *engineFixture {
	t.Helper()
	db := openTest(t)
	es := NewEngineStore(db)
	t.Cleanup(func() { es.Close() })
	f := dialertest.NewFixtures(t, db.Path())
	tenant := f.Tenant("t1")
	return &engineFixture{db: db, es: es, f: f, tenant: tenant, owner: f.User(tenant, "owner", false)}
}

func (x *engineFixture) single(t *testing.T, tries int, due time.Time) int64 {
	c := x.f.Contact(x.tenant, x.owner, "+15550001", "")
	p := x.f.Program(x.tenant, x.owner, dialer.ProgramVoiceTTS)
	return x.f.Transmission(x.tenant, x.owner, c, p, tries, due)
}

func TestBeginAttemptIsWriteAhead(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	now := time.Unix(1_700_000_000, 0)
	tid := x.single(t, 2, now)
	x.f.Exec(`INSERT INTO schedules (tenant_id, created_by, action, target_id, run_at, created_at) VALUES (?, ?, ?, ?, 0, 0)`,
		x.tenant, x.owner, dialer.ScheduleTransmissionSend, tid)
	id, err := x.es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: x.tenant, CallUUID: "u-1", ProviderID: 0, Node: "7", At: now})
	if err != nil || id == 0 {
		t.Fatalf("BeginAttempt: %d, %v", id, err)
	}
	// Durable on return: a separate connection sees it.
	if got := x.f.Int(`SELECT COUNT(*) FROM spools WHERE spool_id = ? AND status = 'initiated' AND call_uuid = 'u-1' AND node = '7'`, id); got != 1 {
		t.Fatal("spool not committed when BeginAttempt returned")
	}
	if got := x.f.Int(`SELECT try_done FROM transmissions WHERE transmission_id = ? AND status = 'processing' AND due_at = 0`, tid); got != 1 {
		t.Fatalf("transmission try_done %d", got)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM schedules WHERE done_at = 0`); got != 0 {
		t.Fatal("the transmission's schedule was not marked done")
	}
	// Not pending any more: a second attempt is refused and writes nothing.
	if _, err := x.es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: x.tenant, CallUUID: "u-2", At: now}); !errors.Is(err, dialer.ErrAttemptGone) {
		t.Fatalf("second BeginAttempt: %v", err)
	}
	if _, err := x.es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid + 100, TenantID: x.tenant, CallUUID: "u-3", At: now}); !errors.Is(err, dialer.ErrAttemptGone) {
		t.Fatalf("BeginAttempt on a missing transmission: %v", err)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM spools`); got != 1 {
		t.Fatalf("%d spools", got)
	}

	open, err := x.es.OpenSpools(ctx)
	if err != nil || len(open) != 1 || open[0].SpoolID != id || open[0].Work.TransmissionID != tid || open[0].Work.TryDone != 1 || open[0].Node != "7" {
		t.Fatalf("OpenSpools: %+v, %v", open, err)
	}

	end := now.Add(30 * time.Second)
	x.es.Record(dialer.SpoolAnswered{SpoolID: id, At: now.Add(5 * time.Second)})
	x.es.Record(dialer.AttemptEnded{SpoolID: id, TransmissionID: tid, TenantID: x.tenant, SpoolStatus: dialer.SpoolCompleted,
		Response: "NORMAL_CLEARING", Start: now, Connect: now.Add(5 * time.Second), End: end,
		Results: []dialer.Result{{Type: "dtmf", Name: "digit", Data: "1"}}, Status: dialer.TransmissionCompleted})
	if err := x.es.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM spools WHERE status = 'completed' AND time_connect = ? AND time_end = ?`, now.Unix()+5, end.Unix()); got != 1 {
		t.Fatal("spool not closed")
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM spool_results WHERE spool_id = ? AND data = '1'`, id); got != 1 {
		t.Fatal("result not stored")
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM transmissions WHERE status = 'completed' AND response = 'NORMAL_CLEARING'`); got != 1 {
		t.Fatal("transmission not completed")
	}
}

func TestAttemptEndedRefundAndRequeue(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	now := time.Unix(1_700_000_000, 0)
	tid := x.single(t, 1, now)
	id, err := x.es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: x.tenant, CallUUID: "u", At: now})
	if err != nil {
		t.Fatal(err)
	}
	x.es.Record(dialer.AttemptEnded{SpoolID: id, TransmissionID: tid, TenantID: x.tenant, SpoolStatus: dialer.SpoolFailed,
		Response: dialer.CauseGatewayError, End: now, Status: dialer.TransmissionPending, Due: now.Add(time.Second), Refund: true})
	if err := x.es.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT try_done FROM transmissions WHERE status = 'pending' AND due_at = ?`, now.Add(time.Second).UnixMilli()); got != 0 {
		t.Fatalf("try_done %d after a refund", got)
	}
	work, err := x.es.QueuedWork(ctx)
	if err != nil || len(work) != 1 || work[0].TransmissionID != tid || work[0].Phone != "+15550001" || work[0].Program != dialer.ProgramVoiceTTS {
		t.Fatalf("QueuedWork: %+v, %v", work, err)
	}
}

// Many changes recorded back to back commit in order, in few transactions.
func TestRecordOrderAcrossBatches(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	now := time.Unix(1_700_000_000, 0)
	tid := x.single(t, 1, time.Time{})
	for i := range 5000 {
		st := dialer.TransmissionPending
		if i == 4999 {
			st = dialer.TransmissionInvalid
		}
		x.es.Record(dialer.TransmissionChanged{TransmissionID: tid, Status: st, Response: "r", Due: now.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := x.es.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT due_at FROM transmissions WHERE status = 'invalid'`); got != now.Add(4999*time.Millisecond).UnixMilli() {
		t.Fatalf("last change not the one kept: due %d", got)
	}
}

func TestRequeueOrphans(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	tid := x.single(t, 1, time.Time{})
	x.f.Exec(`UPDATE transmissions SET status = 'processing' WHERE transmission_id = ?`, tid)
	n, err := x.es.RequeueOrphans(ctx, time.Unix(100, 0))
	if err != nil || n != 1 {
		t.Fatalf("RequeueOrphans: %d, %v", n, err)
	}
	if got := x.f.Int(`SELECT due_at FROM transmissions WHERE status = 'pending'`); got != 100_000 {
		t.Fatalf("due_at %d", got)
	}
}

func TestStartCampaign(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	contacts := x.f.Contacts(x.tenant, x.owner, 50, 0)
	g := x.f.Group(x.tenant, x.owner, contacts...)
	p := x.f.Program(x.tenant, x.owner, dialer.ProgramVoiceMessage)
	cid := x.f.Campaign(x.tenant, x.owner, p, g, 120, 3, 60)
	sid := x.f.Exec(`INSERT INTO schedules (tenant_id, created_by, action, target_id, run_at, created_at) VALUES (?, ?, ?, ?, 5, 0)`,
		x.tenant, x.owner, dialer.ScheduleCampaignStart, cid)
	now := time.Unix(1_700_000_000, 0)
	c, err := x.es.StartCampaign(ctx, x.tenant, cid, now, sid)
	if err != nil || c.Status != dialer.CampaignActive || c.StartedAt != now.Unix() || c.CPM != 120 {
		t.Fatalf("StartCampaign: %+v, %v", c, err)
	}
	work, err := x.es.CampaignWork(ctx, cid, 0, 1000)
	if err != nil || len(work) != 50 || work[0].TryAllowed != 3 || work[0].CampaignID != cid || !work[0].Due.Equal(now) {
		t.Fatalf("CampaignWork: %d, %+v, %v", len(work), work[0], err)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM schedules WHERE done_at = 0`); got != 0 {
		t.Fatal("start schedule not done")
	}
	// Starting again adds only the contacts added since.
	more := x.f.Contacts(x.tenant, x.owner, 5, 100)
	x.f.AddToGroup(x.tenant, g, more...)
	if _, err := x.es.StartCampaign(ctx, x.tenant, cid, now, 0); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ?`, cid); got != 55 {
		t.Fatalf("%d transmissions after a second start", got)
	}
	active, err := x.es.ActiveCampaigns(ctx)
	if err != nil || len(active) != 1 {
		t.Fatalf("ActiveCampaigns: %v, %v", active, err)
	}
	if c, err := x.es.StopCampaign(ctx, x.tenant, cid, now, 0); err != nil || c.Status != dialer.CampaignStopped {
		t.Fatalf("StopCampaign: %+v, %v", c, err)
	}
	cc, err := x.db.CampaignCounters(ctx, cid)
	if err != nil || cc.Total != 55 || cc.Pending != 55 {
		t.Fatalf("counters %+v, %v", cc, err)
	}
	if _, err := x.es.StartCampaign(ctx, "other", cid, now, 0); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("another tenant's campaign: %v", err)
	}
	// An inbound program cannot be started.
	in := x.f.Program(x.tenant, x.owner, dialer.ProgramReceiveFax)
	bad := x.f.Campaign(x.tenant, x.owner, in, g, 60, 1, 0)
	if _, err := x.es.StartCampaign(ctx, x.tenant, bad, now, 0); !errors.Is(err, dialer.ErrInvalid) {
		t.Fatalf("inbound campaign started: %v", err)
	}
}

func TestQueueRetryUnqueue(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	tid := x.single(t, 1, time.Time{})
	at := time.Unix(1_800_000_000, 0)
	sid, err := x.es.QueueTransmission(ctx, x.tenant, tid, at, x.owner)
	if err != nil || sid == 0 {
		t.Fatalf("QueueTransmission: %d, %v", sid, err)
	}
	sid2, err := x.es.QueueTransmission(ctx, x.tenant, tid, at.Add(time.Hour), x.owner)
	if err != nil || sid2 == sid {
		t.Fatalf("requeue: %d, %v", sid2, err)
	}
	pending, err := x.es.PendingSchedules(ctx)
	if err != nil || len(pending) != 1 || pending[0].ID != sid2 || !pending[0].RunAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("PendingSchedules: %+v, %v", pending, err)
	}
	if err := x.es.UnqueueTransmission(ctx, x.tenant, tid); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM schedules`) + x.f.Int(`SELECT due_at FROM transmissions`); got != 0 {
		t.Fatal("unqueue left a schedule or a due time")
	}
	if err := x.es.RetryTransmission(ctx, x.tenant, tid, at); !errors.Is(err, dialer.ErrConflict) {
		t.Fatalf("retry of a pending transmission: %v", err)
	}
	x.f.Exec(`UPDATE transmissions SET status = 'failed', try_done = 1`)
	if _, err := x.es.QueueTransmission(ctx, x.tenant, tid, at, 0); !errors.Is(err, dialer.ErrConflict) {
		t.Fatalf("queueing a failed transmission: %v", err)
	}
	if err := x.es.RetryTransmission(ctx, x.tenant, tid, at); err != nil {
		t.Fatal(err)
	}
	if got := x.f.Int(`SELECT try_allowed FROM transmissions WHERE status = 'pending'`); got != 2 {
		t.Fatalf("try_allowed %d after retry", got)
	}
	if _, err := x.es.QueueTransmission(ctx, "other", tid, at, 0); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
}

func TestProvidersAndRoute(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	p1 := x.f.Provider(x.tenant, x.owner, "a", dialer.ServiceVoice|dialer.ServiceFax, 5, 3, `{"cps": 4, "channels": 9, "transport": "tcp"}`)
	// The route carries the password unsealed, for the gateway.
	key, err := newSealer(bytes.Repeat([]byte("k"), SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	x.db.seal = key
	sealed, err := key.seal("trunk-secret", sealAAD(sealProviderPassword, x.tenant))
	if err != nil {
		t.Fatal(err)
	}
	x.f.Exec(`UPDATE providers SET password_sealed = ?, gateway_flag = 8 WHERE provider_id = ?`, sealed, p1)
	x.f.Provider(x.tenant, x.owner, "b", dialer.ServiceSMS, 10, 0, "not json")
	x.f.Exec(`UPDATE providers SET active = 0 WHERE name = 'b'`)
	ps, err := x.es.Providers(ctx, x.tenant)
	if err != nil || len(ps) != 1 || ps[0].ID != p1 || ps[0].CPS != 4 || ps[0].Channels != 9 || ps[0].Node != "3" || ps[0].Weight != 5 {
		t.Fatalf("Providers: %+v, %v", ps, err)
	}
	r, err := x.es.Route(ctx, x.tenant, p1)
	if err != nil || r.Host != "127.0.0.1" || r.Transport != "tcp" || r.Node != "3" || r.Password != "trunk-secret" || r.Gateway != dialer.GatewaySIP {
		t.Fatalf("Route: %+v, %v", r, err)
	}
	if _, err := x.es.Route(ctx, "other", p1); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("another tenant's route: %v", err)
	}
}

func TestEngineStoreClose(t *testing.T) {
	x := newEngineFixture(t)
	x.es.Record(dialer.TransmissionChanged{TransmissionID: 1})
	if err := x.es.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.es.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.es.Sync(context.Background()); err == nil {
		t.Fatal("Sync after Close succeeded")
	}
}

// An account assigned to a user is theirs to use, in a campaign as in a
// program; another user's account is not.
func TestCheckRefsAccountsAssignedToTheUser(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	other := x.f.User(x.tenant, "other", false)
	assigned := x.f.Exec(`INSERT INTO accounts (tenant_id, created_by, user_id, type, username, created_at, updated_at)
		VALUES (?, ?, ?, 'extension', 'ext1', 0, 0)`, x.tenant, other, x.owner)
	foreign := x.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, username, created_at, updated_at)
		VALUES (?, ?, 'extension', 'ext2', 0, 0)`, x.tenant, other)
	scope := dialer.Scope{TenantID: x.tenant, OwnerID: x.owner}
	for _, tc := range []struct {
		id int64
		ok bool
	}{{assigned, true}, {foreign, false}} {
		var v dialer.Invalid
		if err := checkRefs(ctx, x.db.r, scope, &v, rowRef{"accounts", "account_id", tc.id}); err != nil {
			t.Fatal(err)
		}
		if (v.Err() == nil) != tc.ok {
			t.Errorf("account %d: %v, want usable=%v", tc.id, v.Err(), tc.ok)
		}
	}
}

// A running campaign's counters come from the engine when it has them, so
// a dashboard does not count the campaign's transmissions on every request;
// the engine itself always gets them counted.
func TestCampaignCountersFromTheEngine(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	p := x.f.Program(x.tenant, x.owner, dialer.ProgramVoiceTTS)
	g := x.f.Group(x.tenant, x.owner, x.f.Contacts(x.tenant, x.owner, 3, 0)...)
	id := x.f.Campaign(x.tenant, x.owner, p, g, 60, 1, 60)
	if _, err := x.es.StartCampaign(ctx, x.tenant, id, time.Unix(1_700_000_000, 0), 0); err != nil {
		t.Fatal(err)
	}
	live := dialer.CampaignCounters{Total: 3, Done: 1, Answered: 1, InFlight: 1, Pending: 1}
	x.db.UseLiveCounters(func(c int64) (dialer.CampaignCounters, bool) { return live, c == id })
	c, err := x.db.Campaign(ctx, x.tenant, id)
	if err != nil || c.Counters != live {
		t.Fatalf("API's campaign counters %+v, %v; want the engine's %+v", c.Counters, err, live)
	}
	list, err := x.db.Campaigns(ctx, dialer.Scope{TenantID: x.tenant}, dialer.ListQuery{})
	if err != nil || len(list) != 1 || list[0].Counters != live {
		t.Fatalf("list %+v, %v", list, err)
	}
	ec, err := x.es.Campaign(ctx, x.tenant, id)
	if err != nil || ec.Counters != (dialer.CampaignCounters{Total: 3, Pending: 3}) {
		t.Fatalf("engine's campaign counters %+v, %v; want them counted", ec.Counters, err)
	}
}

// The counters are kept by triggers as transmissions are created, change
// status and are deleted, so they always equal a count of the rows.
func TestCampaignCountersKept(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	p := x.f.Program(x.tenant, x.owner, dialer.ProgramVoiceTTS)
	g := x.f.Group(x.tenant, x.owner, x.f.Contacts(x.tenant, x.owner, 5, 0)...)
	id := x.f.Campaign(x.tenant, x.owner, p, g, 60, 1, 60)
	if _, err := x.es.StartCampaign(ctx, x.tenant, id, time.Unix(1_700_000_000, 0), 0); err != nil {
		t.Fatal(err)
	}
	kept := func() dialer.CampaignCounters {
		t.Helper()
		cc, err := x.db.CampaignCounters(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return cc
	}
	counted := func() dialer.CampaignCounters {
		t.Helper()
		var cc dialer.CampaignCounters
		rows, err := x.db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM transmissions WHERE campaign_id = ? GROUP BY status`, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int64
			if err := rows.Scan(&st, &n); err != nil {
				t.Fatal(err)
			}
			cc.Total += n
			switch dialer.TransmissionStatus(st) {
			case dialer.TransmissionCompleted:
				cc.Done, cc.Answered = cc.Done+n, cc.Answered+n
			case dialer.TransmissionFailed, dialer.TransmissionInvalid:
				cc.Done, cc.Failed = cc.Done+n, cc.Failed+n
			case dialer.TransmissionProcessing:
				cc.InFlight += n
			default:
				cc.Pending += n
			}
		}
		return cc
	}
	if got := kept(); got != (dialer.CampaignCounters{Total: 5, Pending: 5}) || got != counted() {
		t.Fatalf("after start: kept %+v, counted %+v", got, counted())
	}
	for _, step := range []string{
		`UPDATE transmissions SET status = 'processing' WHERE transmission_id = (SELECT MIN(transmission_id) FROM transmissions WHERE campaign_id = ?)`,
		`UPDATE transmissions SET status = 'completed' WHERE status = 'processing' AND campaign_id = ?`,
		`UPDATE transmissions SET status = 'failed' WHERE transmission_id = (SELECT MAX(transmission_id) FROM transmissions WHERE campaign_id = ?)`,
		`UPDATE transmissions SET updated_at = updated_at + 1 WHERE campaign_id = ?`, // no status change
		`DELETE FROM transmissions WHERE transmission_id = (SELECT MAX(transmission_id) FROM transmissions WHERE campaign_id = ? AND status = 'pending')`,
	} {
		x.f.Exec(step, id)
		if got, want := kept(), counted(); got != want {
			t.Fatalf("after %q: kept %+v, counted %+v", step, got, want)
		}
	}
	if got := kept(); got != (dialer.CampaignCounters{Total: 4, Done: 2, Answered: 1, Failed: 1, Pending: 2}) {
		t.Fatalf("final %+v", got)
	}
}

// BenchmarkCampaignCounters reads a 100,000-transmission campaign's
// counters as GET /campaigns/{id} does for a campaign the engine is not
// running.
func BenchmarkCampaignCounters(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	f := dialertest.NewFixtures(b, db.Path())
	tenant := f.Tenant("t")
	owner := f.User(tenant, "o", true)
	p := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	g := f.Group(tenant, owner)
	id := f.Campaign(tenant, owner, p, g, 60, 1, 60)
	f.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) SELECT ?, ?, '+1555' || printf('%07d', i), 0, 0 FROM n`, tenant, owner)
	f.Exec(`INSERT INTO transmissions (tenant_id, created_by, title, origin, contact_id, program_id, campaign_id, service_flag,
		direction, status, try_allowed, try_done, created_at, updated_at)
		SELECT ?, ?, 'b', 'campaign', contact_id, ?, ?, 1, 'outbound', CASE contact_id % 3 WHEN 0 THEN 'completed' ELSE 'pending' END, 1, 0, 0, 0
		FROM contacts WHERE tenant_id = ?`, tenant, owner, p, id, tenant)
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.CampaignCounters(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransmissionsPage reads page 400 (50 a page) of one campaign's
// transmissions among four campaigns of 50,000 each, as a dashboard pages
// through GET /transmissions?campaign_id=N.
func BenchmarkTransmissionsPage(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	f := dialertest.NewFixtures(b, db.Path())
	tenant := f.Tenant("t")
	owner := f.User(tenant, "o", true)
	p := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	g := f.Group(tenant, owner)
	var campaigns []int64
	for range 4 {
		campaigns = append(campaigns, f.Campaign(tenant, owner, p, g, 60, 1, 60))
	}
	f.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
		INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) SELECT ?, ?, '+1555' || printf('%07d', i), 0, 0 FROM n`, tenant, owner)
	f.Exec(`INSERT INTO transmissions (tenant_id, created_by, title, origin, contact_id, program_id, campaign_id, service_flag,
		direction, status, try_allowed, try_done, created_at, updated_at)
		SELECT ?, ?, 'b', 'campaign', contact_id, ?, ? + contact_id % 4, 1, 'outbound', 'completed', 1, 1, 0, 0
		FROM contacts WHERE tenant_id = ?`, tenant, owner, p, campaigns[0], tenant)
	q := dialer.ListQuery{Filters: map[string]string{"campaign_id": strconv.FormatInt(campaigns[1], 10)}, Limit: 50, Offset: 400 * 50}
	b.ResetTimer()
	for b.Loop() {
		if ts, err := db.Transmissions(ctx, dialer.Scope{TenantID: tenant}, q); err != nil || len(ts) != 50 {
			b.Fatal(len(ts), err)
		}
	}
}
