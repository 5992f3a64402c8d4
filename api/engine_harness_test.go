package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
	"golang.org/x/crypto/bcrypt"
)

// engineEnv is an API over a real store with a running spool engine on a
// fake clock and an in-memory gateway.
type engineEnv struct {
	*env
	es     *store.EngineStore
	eng    *dialer.Engine
	clk    *dialertest.Clock
	gw     *memgateway.Gateway
	f      *dialertest.Fixtures
	tenant string
}

// engineParts is a bootstrapped store with a spool engine running on a fake
// clock through an in-memory gateway; they stop when the test ends.
type engineParts struct {
	db     *store.DB
	path   string
	tenant string
	es     *store.EngineStore
	clk    *dialertest.Clock
	gw     *memgateway.Gateway
	eng    *dialer.Engine
}

// startEngineParts starts them; events, when not nil, receives the
// engine's events.
func startEngineParts(t *testing.T, script memgateway.Script, events dialer.Publisher) engineParts {
	t.Helper()
	return startEngineWith(t, script, events, nil)
}

// startEngineWith is startEngineParts whose engine dials through
// wrap(memgateway) when wrap is not nil: a gateway with rules of its own.
func startEngineWith(t *testing.T, script memgateway.Script, events dialer.Publisher,
	wrap func(*memgateway.Gateway) dialer.Gateway) engineParts {
	t.Helper()
	ctx := context.Background()
	p := engineParts{path: filepath.Join(t.TempDir(), "dialerd.db")}
	db, err := store.Open(ctx, p.path)
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
	p.db, p.tenant, p.es = db, tenant.ID, store.NewEngineStore(db)
	p.clk = dialertest.NewClock(time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC))
	p.gw = memgateway.New(p.clk, script)
	cfg := dialer.DefaultEngineConfig()
	cfg.SendWait = 2 * time.Second
	var gw dialer.Gateway = p.gw
	if wrap != nil {
		gw = wrap(p.gw)
	}
	p.eng, err = dialer.NewEngine(cfg, dialer.EngineDeps{Store: p.es, Routes: p.es, Gateway: gw, Clock: p.clk, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	p.clk.SetSettled(func() bool { return p.eng.Tasks() == int64(p.clk.Blocked()) })
	if err := p.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		_ = p.eng.Stop(stopped)
		p.es.Close()
		db.Close()
	})
	return p
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	p := startEngineParts(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 5 * time.Second, DTMF: "7"}, nil)
	db, es, eng, clk, gw, path, tenant := p.db, p.es, p.eng, p.clk, p.gw, p.path, p.tenant
	apiClock := &testClock{now: time.Now()}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10, PasswordCost: bcrypt.MinCost, Now: apiClock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}, Transmissions: db, Campaigns: db, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: srv, http: hs, db: db, clock: apiClock}
	e.admin = e.login("admin", adminPassword)
	ee := &engineEnv{env: e, es: es, eng: eng, clk: clk, gw: gw, f: dialertest.NewFixtures(t, path), tenant: tenant}
	ee.f.Provider(tenant, 1, "trunk", dialer.ServiceVoice, 10, 0, "")
	return ee
}

// otherTenant makes a second tenant with an admin and returns its token.
func (ee *engineEnv) otherTenant() (tenant string, admin int64, token string) {
	ee.t.Helper()
	tenant = ee.f.Tenant("other-tenant")
	hash, err := dialer.HashPassword("other-secret-1", bcrypt.MinCost)
	if err != nil {
		ee.t.Fatal(err)
	}
	admin = ee.f.Exec(`INSERT INTO users (tenant_id, username, password_hash, active, created_at, updated_at) VALUES (?, 'otheradmin', ?, 1, 0, 0)`, tenant, hash)
	ee.f.Exec(`INSERT INTO user_roles (tenant_id, user_id, role_id) VALUES (?, ?, ?)`, tenant, admin, dialer.RoleAdmin)
	return tenant, admin, ee.login("otheradmin", "other-secret-1")
}

// run advances the engine's clock.
func (ee *engineEnv) run(d time.Duration) { ee.clk.Advance(d) }

// sync commits what the engine recorded.
func (ee *engineEnv) sync() {
	ee.t.Helper()
	if err := ee.es.Sync(context.Background()); err != nil {
		ee.t.Fatal(err)
	}
}

// id decodes {"<key>": N} from a response.
func (ee *engineEnv) id(r resp, key string) int64 {
	ee.t.Helper()
	var m map[string]int64
	r.json(ee.t, &m)
	if m[key] == 0 {
		ee.t.Fatalf("no %s in %s", key, r.Body)
	}
	return m[key]
}
