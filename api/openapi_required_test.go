package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIRequiredMatchesValidation posts {} to every ICTCore create
// whose body is a Go struct and compares the fields its 412 calls
// "required" with the fields /openapi.json marks required: the document's
// required lists are the validation's, for the routes of today and of
// tomorrow (a new create without its required:"create" tags fails here).
func TestOpenAPIRequiredMatchesValidation(t *testing.T) {
	// The engine's routes are served by an API with a spool engine, the
	// others by one with every store.
	withEngine, withStores, withDNC := newEngineEnv(t).env, newMessageEnv(t).env, newEnv(t, withCompliance)
	b := newSchemaBuilder(routeDocs())
	for _, d := range routeDocs() {
		if d.method != http.MethodPost || d.req == nil || surfaceOf(d.path).prefix != "" || !isStructBody(d.req) {
			continue
		}
		path, _ := openAPIPath(d.path)
		if strings.Contains(path, "{") {
			continue // a create under a resource: its path needs one first
		}
		t.Run(d.method+" "+path, func(t *testing.T) {
			e := withStores
			if withStores.srv.engine.Routes() != nil && !served(withStores, d) {
				e = withEngine
			}
			r := e.do(d.method, path, e.admin, map[string]any{})
			if r.Status == http.StatusLocked && e != withEngine {
				e = withEngine
				r = e.do(d.method, path, e.admin, map[string]any{})
			}
			if r.Status == http.StatusLocked { // the do-not-call lists
				e = withDNC
				r = e.do(d.method, path, e.admin, map[string]any{})
			}
			// Fields called "required" must be documented so; a documented
			// one must at least be refused when absent.
			var required, refused []string
			if r.Status == http.StatusPreconditionFailed {
				for f, why := range r.errorBody(t).Fields {
					refused = append(refused, f)
					if why == "required" {
						required = append(required, f)
					}
				}
			} else if r.Status != http.StatusOK && r.Status != http.StatusCreated {
				// Not a create that validates its body first (an action
				// on something that must exist): nothing to compare.
				t.Skipf("{} answered %d: %s", r.Status, r.Body)
			}
			documented := append(b.createRequired(d.req), alwaysRequired(b, d.req)...)
			for _, f := range required {
				if !slices.Contains(documented, f) {
					t.Errorf("the validation requires %s, /openapi.json does not: tag its field required:\"create\"", f)
				}
			}
			for _, f := range documented {
				if !slices.Contains(refused, f) {
					t.Errorf("/openapi.json requires %s, the validation takes {} without it (%d %s)", f, r.Status, r.Body)
				}
			}
		})
	}
}

func isStructBody(v any) bool {
	if _, empty := v.(emptyObject); empty {
		return false
	}
	return reflect.TypeOf(v).Kind() == reflect.Struct
}

// alwaysRequired are the fields the body's component itself requires.
func alwaysRequired(b *schemaBuilder, req any) []string {
	schema := b.content(req)["application/json"].(map[string]any)["schema"].(map[string]any)
	ref, _ := schema["$ref"].(string)
	comp, _ := b.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	required, _ := comp["required"].([]string)
	return required
}

func served(e *env, d routeDoc) bool {
	for _, r := range e.srv.engine.Routes() {
		if r.Method == d.method && r.Path == d.path {
			return true
		}
	}
	return false
}

// TestOpenAPIRequiredOtherSurfaces is the same check for the tenant
// accounts surface (400 "field: why; …") and the crossbar, whose creates
// are PUTs of {"data": {…}} answered 400 with {field: {rule: …}} in data:
// every create (and crossbar POST) under /api/accounts/{account_id} or
// /v2/accounts/{account_id} alone is posted an empty body.
func TestOpenAPIRequiredOtherSurfaces(t *testing.T) {
	w := newServicesWorld(t)
	b := newSchemaBuilder(routeDocs())
	for _, d := range routeDocs() {
		path, params := openAPIPath(d.path)
		accounts := surfaceOf(d.path).prefix == "/api/accounts"
		crossbar := crossbarPath(d.path)
		if d.req == nil || len(params) > 1 || !(accounts && d.method == http.MethodPost ||
			crossbar && (d.method == http.MethodPut || d.method == http.MethodPost)) {
			continue
		}
		t.Run(d.method+" "+path, func(t *testing.T) {
			url := strings.Replace(path, "{account_id}", w.tenant, 1)
			var refused, required, documented []string
			if accounts {
				r := w.do(d.method, url, w.admin, map[string]any{})
				var e accountErrorBody
				r.json(t, &e)
				if r.Status != http.StatusBadRequest {
					t.Skipf("{} answered %d: %s", r.Status, r.Body)
				}
				for _, part := range strings.Split(e.Message, "; ") {
					field, why, _ := strings.Cut(part, ": ")
					refused = append(refused, field)
					if why == "required" {
						required = append(required, field)
					}
				}
				documented = append(b.createRequired(d.req), alwaysRequired(b, d.req)...)
			} else {
				r := w.do(d.method, url, "", map[string]any{"data": map[string]any{}}, "X-Auth-Token", w.admin)
				if r.Status != http.StatusBadRequest {
					t.Skipf("{\"data\": {}} answered %d: %s", r.Status, r.Body)
				}
				var e struct {
					Data map[string]map[string]json.RawMessage `json:"data"`
				}
				r.json(t, &e)
				for field, rules := range e.Data {
					refused = append(refused, field)
					if _, ok := rules["required"]; ok && d.method == http.MethodPut {
						required = append(required, field) // only a create must list them
					}
				}
				data, _ := cbBodyData(d.req)
				documented = alwaysRequired(b, data)
				if d.method == http.MethodPut {
					documented = append(documented, b.createRequired(data)...)
				}
			}
			for _, f := range required {
				if !slices.Contains(documented, f) {
					t.Errorf("the validation requires %s, /openapi.json does not (refused: %v)", f, refused)
				}
			}
			for _, f := range documented {
				if !slices.Contains(refused, f) {
					t.Errorf("/openapi.json requires %s, the validation does not refuse its absence (refused: %v)", f, refused)
				}
			}
		})
	}
}
