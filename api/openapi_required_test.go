package api

import (
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
	withEngine, withStores := newEngineEnv(t).env, newMessageEnv(t).env
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
