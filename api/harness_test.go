package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/store"
)

// testClock is a settable clock for tokens and throttling.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one API under test: a real router over a real SQLite store.
type env struct {
	t     testing.TB
	srv   *Server
	http  *httptest.Server
	db    *store.DB
	clock *testClock
	admin string // the admin's token
}

const adminPassword = "admin-secret-1"

// testMaxImportBytes is the CSV import limit under test.
const testMaxImportBytes = 4 << 20

// newEnv starts an API over a fresh store; with options adjust its Deps
// (e.g. a node registry) before the server is built.
func newEnv(t testing.TB, with ...func(*Deps)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "dialerd.db"), store.WithSealKey(bytes.Repeat([]byte("s"), store.SealKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hash, err := dialer.HashPassword(adminPassword, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Now()}
	deps := Deps{Users: db, Contacts: db, Groups: db, Programs: db, Accounts: db, Providers: db, PBX: db, Tenants: db,
		Crossbar: db, Centrex: db, Services: db,
		Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}}
	for _, w := range with {
		w(&deps)
	}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10,
		MaxImportBytes: testMaxImportBytes, DefaultCountryCode: "1", PasswordCost: bcrypt.MinCost, Now: clock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)), deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: srv, http: hs, db: db, clock: clock}
	e.admin = e.login("admin", adminPassword)
	return e
}

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t testing.TB, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, dst); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

// errorBody decodes the ICTCore error envelope, failing when it is not one.
func (r resp) errorBody(t testing.TB) ictcoreErrorBody {
	t.Helper()
	var e ictcoreError
	r.json(t, &e)
	if e.Error.Code != r.Status || e.Error.Message == "" {
		t.Fatalf("error envelope %s does not match status %d", r.Body, r.Status)
	}
	return e.Error
}

// do sends a request; body may be nil, a string (sent as is) or a value (as JSON).
func (e *env) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.checkResponse(method, path, res, b)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// expect fails the test unless r has the wanted status.
func (e *env) expect(r resp, status int) resp {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

func (e *env) login(username, password string) string {
	e.t.Helper()
	r := e.expect(e.do("POST", "/authenticate", "", map[string]string{"username": username, "password": password}), 200)
	var out struct{ Token string }
	r.json(e.t, &out)
	if out.Token == "" {
		e.t.Fatalf("no token in %s", r.Body)
	}
	return out.Token
}

// createUser makes a plain user as the admin and returns its id and token.
func (e *env) createUser(username string, extra map[string]any) (int64, string) {
	e.t.Helper()
	body := map[string]any{"username": username, "passwd": "password-" + username, "first_name": username}
	for k, v := range extra {
		body[k] = v
	}
	r := e.expect(e.do("POST", "/users", e.admin, body), 200)
	var out struct {
		UserID int64 `json:"user_id"`
	}
	r.json(e.t, &out)
	return out.UserID, e.login(username, "password-"+username)
}

// otherTenantAdmin makes a second tenant with an admin and returns the
// admin's token: that tenant's resources must not exist for this one's.
func (e *env) otherTenantAdmin(username string) string {
	e.t.Helper()
	ctx := context.Background()
	tenant, err := e.db.CreateTenant(ctx, "other "+username, "org")
	if err != nil {
		e.t.Fatal(err)
	}
	hash, err := dialer.HashPassword("password-"+username, bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	u := dialer.User{TenantID: tenant.ID, Username: username, Active: 1, Roles: []int64{dialer.RoleAdmin}, Permissions: []int64{}}
	if _, err := e.db.CreateUsers(ctx, []dialer.NewUser{{User: u, Hash: hash}}); err != nil {
		e.t.Fatal(err)
	}
	return e.login(username, "password-"+username)
}
