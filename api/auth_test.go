package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t)
	var users []map[string]any
	e.expect(e.do("GET", "/users", e.admin, nil), 200).json(t, &users)
	if len(users) != 1 || users[0]["username"] != "admin" {
		t.Fatalf("initial users: %v", users)
	}

	id, tok := e.createUser("alice", map[string]any{"email": "alice@example.com", "phone": 3001234567})
	path := "/users/" + strconv.FormatInt(id, 10)
	var u map[string]any
	e.expect(e.do("GET", path, e.admin, nil), 200).json(t, &u)
	if u["email"] != "alice@example.com" || u["phone"] != "3001234567" {
		t.Errorf("created user reads back as %v", u)
	}

	// The admin changes alice's password; the new one works, the old one
	// and tokens issued before do not.
	r := e.expect(e.do("PUT", path+"/password", e.admin, map[string]string{"password": "brand-new-pass"}), 200)
	assertNoSecrets(t, r.Body)
	e.login("alice", "brand-new-pass")
	e.expect(e.do("POST", "/authenticate", "", map[string]string{"username": "alice", "password": "password-alice"}), 401).errorBody(t)
	e.expect(e.do("GET", path, tok, nil), 401).errorBody(t)

	// No response carries a password or its hash.
	for _, p := range []string{"/users", path} {
		assertNoSecrets(t, e.do("GET", p, e.admin, nil).Body)
	}
	e.expect(e.do("DELETE", path, e.admin, nil), 200)
	e.expect(e.do("GET", path, e.admin, nil), 404).errorBody(t)
}

func assertNoSecrets(t testing.TB, body []byte) {
	t.Helper()
	for _, bad := range []string{"passw", "$2a$", "$2b$", "hash"} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("response carries %q: %s", bad, body)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	forge := func(key []byte, method jwt.SigningMethod, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := jwt.MapClaims{"sub": "1", "iss": "dialerd", "exp": time.Now().Add(time.Hour).Unix(), "tid": ""}
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{
		"missing":    "",
		"garbage":    "not-a-jwt",
		"wrong key":  forge(bytes.Repeat([]byte("x"), 32), jwt.SigningMethodHS256, good),
		"alg none":   noneTok,
		"truncated":  e.admin[:len(e.admin)-4],
		"other user": forge(bytes.Repeat([]byte("k"), 32), jwt.SigningMethodHS256, jwt.MapClaims{"sub": "999", "iss": "dialerd", "exp": time.Now().Add(time.Hour).Unix()}),
	} {
		r := e.do("GET", "/users", tok, nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s token: status %d, want 401", name, r.Status)
			continue
		}
		r.errorBody(t)
	}

	// Expired: the admin's token, a day later.
	e.clock.Add(25 * time.Hour)
	r := e.expect(e.do("GET", "/users", e.admin, nil), 401)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, "expired") {
		t.Errorf("expired token message %q", msg)
	}
}

func TestTokenHeaders(t *testing.T) {
	e := newEnv(t)
	for _, h := range [][2]string{
		{"Authorization", "Bearer " + e.admin},
		{"Authorization", "bearer " + e.admin},
		{"Authentication", "Bearer " + e.admin}, // the ICTCore document's spelling
		{"X-Auth-Token", e.admin},
	} {
		e.expect(e.do("GET", "/users", "", nil, h[0], h[1]), 200)
	}
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	bad := map[string]string{"username": "admin", "password": "wrong-password"}
	free := e.srv.throttle.pair.free
	for range free {
		e.expect(e.do("POST", "/authenticate", "", bad), 401)
	}
	// Now delayed, even with the right password.
	r := e.expect(e.do("POST", "/authenticate", "", map[string]string{"username": "admin", "password": adminPassword}), 429)
	r.errorBody(t)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.clock.Add(e.srv.throttle.pair.first)
	e.login("admin", adminPassword)
}

// Parallel guesses are counted before any of them is checked: a burst gets
// no more password checks than the free failures, one at a time.
func TestLoginParallelGuessesBounded(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var checks, inFlight, most int
	check := e.srv.checkPassword
	e.srv.checkPassword = func(hash, pw string) bool {
		mu.Lock()
		checks++
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		return check(hash, pw)
	}
	const guesses = 60
	statuses := make(chan int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			statuses <- e.do("POST", "/authenticate", "", map[string]string{"username": "admin", "password": fmt.Sprint("guess-", i)}).Status
		})
	}
	wg.Wait()
	close(statuses)
	answered := map[int]int{}
	for st := range statuses {
		answered[st]++
	}
	free := e.srv.throttle.pair.free
	t.Logf("%d parallel guesses answered %v; %d password checks, at most %d at once", guesses, answered, checks, most)
	if answered[401] > free || answered[401]+answered[429] != guesses {
		t.Errorf("%d parallel guesses answered %v; want at most %d evaluated (401), the rest 429", guesses, answered, free)
	}
	if checks > free || most != 1 {
		t.Errorf("%d password checks, %d at once; want ≤ %d, one at a time", checks, most, free)
	}
}

// Failures for made-up usernames only slow their address: they never keep
// a real user out of it, and a forwarded header does not dodge the slowing.
func TestLoginUnknownNamesDoNotLockOut(t *testing.T) {
	e := newEnv(t)
	var held []time.Duration
	e.srv.throttle.sleep = func(_ context.Context, d time.Duration) error {
		held = append(held, d)
		return nil
	}
	for i := range 40 {
		name := fmt.Sprint("nobody-", i%4)
		r := e.do("POST", "/authenticate", "", map[string]string{"username": name, "password": "wrong-password"})
		if r.Status != 401 && r.Status != 429 {
			t.Fatalf("guess %d: status %d", i, r.Status)
		}
	}
	e.login("admin", adminPassword)
	if len(held) == 0 {
		t.Fatal("40 failures from one address did not slow it")
	}
	if last := held[len(held)-1]; last > e.srv.throttle.addr.max {
		t.Errorf("address held %v, more than its cap %v", last, e.srv.throttle.addr.max)
	}
	// A forwarded address does not make a new client: the throttle keys on
	// the connection's address.
	n := len(held)
	e.do("POST", "/authenticate", "", map[string]string{"username": "someone", "password": "wrong-password"}, "X-Forwarded-For", "203.0.113.9")
	if len(held) == n {
		t.Error("X-Forwarded-For dodged the address slowing")
	}
}

// Password checks across many usernames at once are bounded server-wide.
func TestLoginChecksBoundedServerWide(t *testing.T) {
	e := newEnv(t)
	const limit = 3
	e.srv.throttle.checks = make(chan struct{}, limit)
	var inFlight, most atomic.Int32
	check := e.srv.checkPassword
	e.srv.checkPassword = func(hash, pw string) bool {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		defer inFlight.Add(-1)
		return check(hash, pw)
	}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			e.do("POST", "/authenticate", "", map[string]string{"username": fmt.Sprint("user-", i), "password": "wrong-password"})
		})
	}
	wg.Wait()
	t.Logf("30 logins for 30 names: at most %d password checks at once (bound %d)", most.Load(), limit)
	if m := most.Load(); m > limit {
		t.Errorf("%d password checks ran at once; the server-wide bound is %d", m, limit)
	}
}

func TestLoginGuardDelays(t *testing.T) {
	now := time.Unix(0, 0)
	g := newLoginGuard(func() time.Time { return now })
	ctx := context.Background()
	attempt := func(user, addr string, ok bool) time.Duration {
		t.Helper()
		done, retry, err := g.admit(ctx, user, addr)
		if err != nil {
			t.Fatal(err)
		}
		if retry == 0 {
			done(map[bool]attemptOutcome{true: attemptSucceeded, false: attemptFailed}[ok])
		}
		return retry
	}
	// The pair's delay grows, doubling, up to its cap.
	var last time.Duration
	for i := 1; i <= g.pair.free+12; i++ {
		if w := attempt("ann", "a1", false); w != 0 {
			t.Fatalf("attempt %d refused for %v although the last delay had passed", i, w)
		}
		wait := g.wait(pairKey("ann", "a1"), g.pair, now)
		switch {
		case i < g.pair.free && wait != 0:
			t.Fatalf("failure %d already delays for %v", i, wait)
		case i >= g.pair.free && (wait < last || wait > g.pair.max):
			t.Fatalf("failure %d delays for %v after %v (cap %v)", i, wait, last, g.pair.max)
		}
		last = wait
		now = now.Add(wait)
	}
	if last != g.pair.max {
		t.Errorf("the pair's delay does not reach its cap: %v", last)
	}
	// Another address may still try ann, until ann's own counter bites.
	if w := attempt("ann", "a2", false); w != 0 {
		t.Errorf("ann from another address refused for %v", w)
	}
	// A success clears the pair at once.
	now = now.Add(g.pair.max)
	attempt("ann", "a1", true)
	if w := attempt("ann", "a1", false); w != 0 {
		t.Errorf("after a good login ann is still delayed %v", w)
	}
	// The address is only ever slowed, up to its cap.
	var held time.Duration
	g.sleep = func(_ context.Context, d time.Duration) error { held = d; return nil }
	for i := range 200 {
		attempt(fmt.Sprint("x", i), "a3", false)
	}
	if err := g.slow(ctx, "a3"); err != nil || held == 0 || held > g.addr.max {
		t.Errorf("address after 200 failures held %v (err %v), want (0, %v]", held, err, g.addr.max)
	}
	if w := attempt("bob", "a3", true); w != 0 {
		t.Errorf("bob refused for %v from an address others failed from", w)
	}
	// An attempt the store could not answer is taken back.
	before := g.entries[userKey("cy")]
	done, _, _ := g.admit(ctx, "cy", "a4")
	done(attemptVoid)
	if after := g.entries[userKey("cy")]; before != nil || after != nil {
		t.Errorf("a void attempt stayed counted: %+v", after)
	}
	// Quiet long enough, a key is forgotten.
	now = now.Add(forget + time.Second)
	if w := attempt("ann", "a1", false); w != 0 {
		t.Errorf("an old key was not forgotten: delayed %v", w)
	}
	if len(g.turns) != 0 {
		t.Errorf("%d login turns left behind", len(g.turns))
	}
}

func TestPermissionsEnforced(t *testing.T) {
	e := newEnv(t)
	bobID, bob := e.createUser("bob", nil)
	carolID, _ := e.createUser("carol", nil)
	bobPath := fmt.Sprintf("/users/%d", bobID)
	carolPath := fmt.Sprintf("/users/%d", carolID)

	// A plain user sees only itself.
	var list []map[string]any
	e.expect(e.do("GET", "/users", bob, nil), 200).json(t, &list)
	if len(list) != 1 || list[0]["username"] != "bob" {
		t.Errorf("bob's user list: %v", list)
	}
	e.expect(e.do("GET", bobPath, bob, nil), 200)
	e.expect(e.do("GET", carolPath, bob, nil), 403).errorBody(t)
	e.expect(e.do("POST", "/users", bob, map[string]any{"username": "eve", "passwd": "password-eve"}), 403).errorBody(t)
	e.expect(e.do("PUT", carolPath+"/password", bob, map[string]string{"password": "hijacked-pass"}), 403)
	e.expect(e.do("GET", "/users/csv", bob, nil), 403)

	// Bob may change his own profile and password, but not his active flag.
	e.expect(e.do("PUT", bobPath, bob, map[string]any{"last_name": "Builder"}), 200)
	e.expect(e.do("PUT", bobPath, bob, map[string]any{"active": 0}), 412)
	e.expect(e.do("PUT", bobPath+"/password", bob, map[string]string{"password": "bobs-new-pass"}), 200)

	// Granted user.write (id 2), bob may create users but never hand out admin.
	bob = e.login("bob", "bobs-new-pass")
	e.expect(e.do("PUT", bobPath+"/permissions/2", e.admin, nil), 200)
	e.expect(e.do("POST", "/users", bob, map[string]any{"username": "dave", "passwd": "password-dave"}), 200)
	e.expect(e.do("POST", "/users", bob, map[string]any{"username": "mallory", "passwd": "password-mal", "roles": []int{1}}), 403)
	e.expect(e.do("PUT", bobPath+"/roles/1", bob, nil), 403)
	e.expect(e.do("PUT", "/users/1/password", bob, map[string]string{"password": "owned-admin!"}), 403)
	var dave []map[string]any
	e.expect(e.do("GET", "/users?username=dave", bob, nil), 200).json(t, &dave)
	if len(dave) != 1 {
		t.Errorf("bob does not see the user he created: %v", dave)
	}

	// Revoked, the right is gone at once, on the same token.
	e.expect(e.do("DELETE", bobPath+"/permissions/2", e.admin, nil), 200)
	e.expect(e.do("POST", "/users", bob, map[string]any{"username": "erin", "passwd": "password-erin"}), 403)

	// Deactivated, bob's token stops working.
	e.expect(e.do("PUT", bobPath, e.admin, map[string]any{"active": 0}), 200)
	e.expect(e.do("GET", bobPath, bob, nil), 401)
	e.expect(e.do("POST", "/authenticate", "", map[string]string{"username": "bob", "password": "bobs-new-pass"}), 401)
}

func TestValidationAndMalformedInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"malformed JSON", "POST", "/users", `{"username": "x",`, 400},
		{"not an object", "POST", "/users", `[1,2]`, 412},
		{"trailing data", "POST", "/users", `{"username":"zed","passwd":"password-zed"} {}`, 400},
		{"empty body", "POST", "/users", "", 400},
		{"wrong type", "POST", "/users", `{"username": 5}`, 412},
		{"short password", "POST", "/users", map[string]any{"username": "zed", "passwd": "short"}, 412},
		{"bad username", "POST", "/users", map[string]any{"username": "a b{c}", "passwd": "password-ok"}, 412},
		{"unknown role", "POST", "/users", map[string]any{"username": "zed", "passwd": "password-ok", "roles": []int{99}}, 412},
		{"duplicate", "POST", "/users", map[string]any{"username": "ADMIN", "passwd": "password-ok"}, 409},
		{"bad id", "GET", "/users/abc", nil, 404},
		{"unknown filter", "GET", "/users?password_hash=x", nil, 412},
		{"bad page", "GET", "/users?limit=-1", nil, 412},
		{"login malformed", "POST", "/authenticate", `{"username"`, 400},
		{"login missing", "POST", "/authenticate", map[string]string{}, 412},
		{"too large", "POST", "/users", `{"username":"` + strings.Repeat("a", 70<<10) + `"}`, 413},
	} {
		r := e.do(tc.method, tc.path, e.admin, tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
			continue
		}
		var env ictcoreError
		r.json(t, &env)
		if env.Error.Message == "" {
			t.Errorf("%s: no error message in %s", tc.name, r.Body)
		}
	}
	var users []map[string]any
	e.expect(e.do("GET", "/users", e.admin, nil), 200).json(t, &users)
	if len(users) != 1 {
		t.Errorf("rejected requests created users: %v", users)
	}
}

func TestUsersCSV(t *testing.T) {
	e := newEnv(t)
	good := "username,passwd,first_name,email,roles\nann,password-ann,Ann,ann@example.com,2\nben,password-ben,Ben,,\n"
	r := e.expect(e.do("POST", "/users/csv", e.admin, good, "Content-Type", "text/csv"), 200)
	var out struct {
		Created int     `json:"created"`
		IDs     []int64 `json:"user_ids"`
	}
	r.json(t, &out)
	if out.Created != 2 || len(out.IDs) != 2 {
		t.Fatalf("import: %s", r.Body)
	}
	e.login("ann", "password-ann")

	// One bad row: nothing goes in, and the answer names line and field.
	bad := "username,passwd,email\ncid,password-cid,cid@example.com\ndan,short,not-an-email\nann,password-dup,\n"
	r = e.expect(e.do("POST", "/users/csv", e.admin, bad, "Content-Type", "text/csv"), 412)
	fields := r.errorBody(t).Fields
	for _, want := range []string{"line 3: passwd", "line 3: email"} {
		if _, ok := fields[want]; !ok {
			t.Errorf("error fields %v lack %q", fields, want)
		}
	}
	e.expect(e.do("POST", "/authenticate", "", map[string]string{"username": "cid", "password": "password-cid"}), 401)
	e.expect(e.do("POST", "/users/csv", e.admin, "username,passwd\nann,password-again\n", "Content-Type", "text/csv"), 409)

	r = e.expect(e.do("GET", "/users/csv", e.admin, nil), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("export Content-Type %q", ct)
	}
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "user_id,username") || !strings.Contains(lines[2], "ann@example.com") {
		t.Errorf("export:\n%s", r.Body)
	}
	assertNoSecrets(t, r.Body)
}

func TestServerErrorsAreJSON(t *testing.T) {
	e := newEnv(t)
	e.srv.engine.GET("/boom", func(*gin.Context) { panic("boom") })
	r := e.expect(e.do("GET", "/boom", "", nil), 500)
	if body := r.errorBody(t); body.RequestID == "" || body.Message != "internal error" {
		t.Errorf("500 body %+v", body)
	}
	e.expect(e.do("GET", "/no/such/route", "", nil), 404).errorBody(t)
	e.expect(e.do("PATCH", "/authenticate", "", nil), 405).errorBody(t)
	if id := e.do("GET", "/healthz", "", nil, "X-Request-Id", "abc-123").Header.Get("X-Request-Id"); id != "abc-123" {
		t.Errorf("request id not echoed: %q", id)
	}
	if id := e.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id;<script>").Header.Get("X-Request-Id"); id == "" || strings.Contains(id, "bad") {
		t.Errorf("insane request id kept: %q", id)
	}
}

func TestReadiness(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("GET", "/healthz", "", nil), 200)
	e.expect(e.do("GET", "/readyz", "", nil), 200)
	// Without a spool engine its routes exist but are not ready.
	e.expect(e.do("GET", "/transmissions", e.admin, nil), 423).errorBody(t)
	e.srv.SetReady(false)
	e.expect(e.do("GET", "/users", e.admin, nil), 423).errorBody(t)
	e.expect(e.do("GET", "/readyz", "", nil), 503)
	e.expect(e.do("GET", "/healthz", "", nil), 200)
	e.srv.SetReady(true)
	e.db.Close()
	e.expect(e.do("GET", "/readyz", "", nil), 503)
}

// Stale keys are swept once the table is large, so made-up usernames cannot
// grow it without bound.
func TestLoginGuardSweepsStaleKeys(t *testing.T) {
	now := time.Unix(0, 0)
	g := newLoginGuard(func() time.Time { return now })
	for i := range sweepAt {
		g.count(fmt.Sprint("user:", i), now)
	}
	now = now.Add(forget + time.Second)
	g.count("user:fresh", now)
	if len(g.entries) != 1 {
		t.Errorf("%d entries after the sweep, want 1", len(g.entries))
	}
}
