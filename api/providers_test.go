package api

import (
	"context"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// providerSecret is the trunk password the provider tests send.
const providerSecret = "Trunk-Secret-4711"

func fullProvider() map[string]any {
	return map[string]any{
		"name": "trunk-1", "gateway_flag": 1, "service_flag": 1, "node_id": 2, "host": "sip.example.com", "port": 5060,
		"username": "acct-1", "password": providerSecret, "dialstring": "sofia/gateway/trunk-1/{number}", "prefix": 12,
		"settings": "codec=PCMU", "register": 1, "weight": 5, "type": "sip", "active": 1,
	}
}

func (w *world) createProvider(token string, body map[string]any) int64 {
	w.t.Helper()
	r := w.expect(w.do("POST", "/providers", token, body), 200)
	noSecrets(w.t, r.Body)
	var out map[string]any
	r.json(w.t, &out)
	id, ok := out["provider_id"].(float64)
	if len(out) != 1 || !ok || id <= 0 {
		w.t.Fatalf("create provider answered %s", r.Body)
	}
	return int64(id)
}

func TestProviderCRUD(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.createProvider(w.admin, fullProvider())
	path := idPath("/providers/%d", id)

	r := w.expect(w.do("GET", path, w.admin, nil), 200)
	noSecrets(t, r.Body)
	var got map[string]any
	r.json(t, &got)
	want := fullProvider()
	delete(want, "password")
	want["prefix"] = "12" // answered as a string
	want["provider_id"] = float64(id)
	for k, v := range want {
		if f, ok := v.(int); ok {
			v = float64(f)
		}
		if got[k] != v {
			t.Errorf("%s reads back as %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["password"]; ok {
		t.Errorf("the password field is answered: %v", got)
	}
	route, err := w.db.ProviderRoute(ctx, w.tenant, id)
	if err != nil || route.Password != providerSecret || route.Node != "2" || route.Prefix != "12" {
		t.Errorf("route %+v, %v", route, err)
	}

	// Defaults of a minimal provider.
	min := w.createProvider(w.admin, map[string]any{"name": "min", "host": "10.0.0.7"})
	var p dialer.Provider
	w.expect(w.do("GET", idPath("/providers/%d", min), w.admin, nil), 200).json(t, &p)
	if p.Weight != dialer.DefaultProviderWeight || p.Type != "sip" || p.Active != 1 || p.NodeID != nil || p.Port != 0 {
		t.Errorf("minimal provider %+v", p)
	}

	// Update: partial, answers the provider; the password changes only when sent.
	r = w.expect(w.do("PUT", path, w.admin, map[string]any{"weight": 20, "node_id": 0, "prefix": "0044"}), 200)
	noSecrets(t, r.Body)
	r.json(t, &p)
	if p.Weight != 20 || p.NodeID != nil || p.Prefix != "0044" || p.Host != "sip.example.com" {
		t.Errorf("update answered %+v", p)
	}
	if route, _ := w.db.ProviderRoute(ctx, w.tenant, id); route.Password != providerSecret {
		t.Errorf("an update without password changed it: %q", route.Password)
	}
	r = w.expect(w.do("PUT", path, w.admin, map[string]any{"password": "Another-Passw0rd"}), 200)
	noSecrets(t, r.Body)
	if route, _ := w.db.ProviderRoute(ctx, w.tenant, id); route.Password != "Another-Passw0rd" {
		t.Errorf("password not replaced: %q", route.Password)
	}
	// Sending back what was read changes nothing else.
	w.expect(w.do("PUT", path, w.admin, p), 200)

	for _, tc := range []struct {
		field string
		value any
	}{
		{"name", "my trunk"},
		{"name", ""},
		{"host", "sip example.com"},
		{"host", "sip.example.com;transport=tcp"},
		{"host", ""},
		{"port", 65536},
		{"port", -1},
		{"port", "5060"},
		{"prefix", "12a"},
		{"prefix", "+44"},
		{"weight", 0},
		{"gateway_flag", -1},
		{"service_flag", -1},
		{"node_id", -4},
		{"username", "acct 1"},
		{"password", "line\nbreak"},
		{"password", strings.Repeat("p", 257)},
		{"dialstring", "{absolute_codec_string=PCMU}sofia/gateway/t/{number}"},
		{"dialstring", "sofia/gateway/t/{number},sofia/gateway/u/{number}"},
		{"dialstring", "sofia/gateway/t/{number} &park()"},
		{"dialstring", "sofia/gateway/t/{number}\nbgapi x"},
		{"dialstring", "sofia/gateway/t/{number}|user/1000"},
		{"dialstring", "sofia/gateway/t/${number}"},
		{"dialstring", "sofia/gateway/t/{destination}"},
		{"dialstring", "sofia/gateway/t/'{number}'"},
		{"register", 2},
		{"active", -1},
		{"type", "SIP"},
		{"settings", "a\x00b"},
	} {
		w.rejected("PUT", path, w.admin, map[string]any{tc.field: tc.value}, 412, tc.field)
		body := fullProvider()
		body["name"] = "other"
		body[tc.field] = tc.value
		w.rejected("POST", "/providers", w.admin, body, 412, tc.field)
	}
	w.rejected("POST", "/providers", w.admin, fullProvider(), 409, "")
	w.rejected("PUT", idPath("/providers/%d", min), w.admin, map[string]any{"name": "TRUNK-1"}, 409, "")
	w.rejected("POST", "/providers", w.admin, `{"name": "x"} trailing`, 400, "")

	// Lists.
	for _, tc := range []struct {
		token, query string
		want         []int64
	}{
		{w.admin, "", []int64{id, min}},
		{w.admin, "?host=10.0.0.7", []int64{min}},
		{w.admin, "?weight=20", []int64{id}},
		{w.admin, "?offset=1", []int64{min}},
		{w.bob, "", nil},
		{w.stranger, "", nil},
	} {
		r := w.expect(w.do("GET", "/providers"+tc.query, tc.token, nil), 200)
		noSecrets(t, r.Body)
		var list []dialer.Provider
		r.json(t, &list)
		if len(list) != len(tc.want) {
			t.Errorf("GET /providers%s: %+v, want %v", tc.query, list, tc.want)
			continue
		}
		for i := range list {
			if list[i].ID != tc.want[i] {
				t.Errorf("GET /providers%s: %+v, want %v", tc.query, list, tc.want)
			}
		}
	}
	w.rejected("GET", "/providers?password=x", w.admin, nil, 412, "password")

	var out map[string]any
	w.expect(w.do("DELETE", idPath("/providers/%d", min), w.admin, nil), 200).json(t, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v", out)
	}
	w.rejected("GET", idPath("/providers/%d", min), w.admin, nil, 404, "")
	w.rejected("DELETE", idPath("/providers/%d", min), w.admin, nil, 404, "")
}

func TestProviderPermissionsAndTenancy(t *testing.T) {
	w := newWorld(t)
	id := w.createProvider(w.admin, fullProvider())
	path := idPath("/providers/%d", id)

	// A plain user reads providers (its own) but may not write any.
	w.rejected("POST", "/providers", w.bob, map[string]any{"name": "bobs", "host": "h.example.com"}, 403, "")
	for _, tc := range []struct {
		method string
		body   any
	}{
		{"GET", nil},
		{"PUT", map[string]any{"weight": 1}},
		{"DELETE", nil},
	} {
		w.rejected(tc.method, path, w.bob, tc.body, 403, "")
		w.rejected(tc.method, path, w.stranger, tc.body, 404, "")
		w.rejected(tc.method, "/providers/424242", w.admin, tc.body, 404, "")
		w.rejected(tc.method, "/providers/x", w.admin, tc.body, 404, "")
		w.rejected(tc.method, path, "", tc.body, 401, "")
	}

	// Granted provider.write, bob manages his own providers, still not the admin's.
	perm := idPath("/users/%d/permissions/%d", w.bobID, 16)
	w.expect(w.do("PUT", perm, w.admin, nil), 200)
	bobs := w.createProvider(w.bob, map[string]any{"name": "bobs", "host": "h.example.com", "password": providerSecret})
	r := w.expect(w.do("PUT", idPath("/providers/%d", bobs), w.bob, map[string]any{"port": 5080}), 200)
	noSecrets(t, r.Body)
	w.rejected("PUT", path, w.bob, map[string]any{"weight": 1}, 403, "")
	w.rejected("DELETE", path, w.bob, nil, 403, "")
	var list []dialer.Provider
	w.expect(w.do("GET", "/providers", w.bob, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].ID != bobs {
		t.Errorf("bob lists %+v", list)
	}
	// The same name in another tenant is no conflict.
	w.createProvider(w.stranger, fullProvider())
	w.expect(w.do("DELETE", idPath("/providers/%d", bobs), w.bob, nil), 200)
}
