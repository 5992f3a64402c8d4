package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every response a test of this package reads through env.do is checked
// against the schema /openapi.json gives for its route, status and media
// type: the document is held to what the server answers, for every route
// any test drives, including routes added later.

// responseValidator checks responses against one /openapi.json.
type responseValidator struct {
	paths    map[string]map[string]any // OpenAPI path → method → operation
	compiler *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema // by JSON pointer
}

// validators caches one validator per document (servers of a test run
// share theirs).
var validators sync.Map // [sha256.Size]byte → *responseValidator

func validatorFor(t testing.TB, doc []byte) *responseValidator {
	key := sha256.Sum256(doc)
	if v, ok := validators.Load(key); ok {
		return v.(*responseValidator)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var ops struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &ops); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", parsed); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	v := &responseValidator{paths: ops.Paths, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	actual, _ := validators.LoadOrStore(key, v)
	return actual.(*responseValidator)
}

// route finds the OpenAPI path of a request path: a literal segment
// matches itself, {param} any one segment, and the path with the most
// literal segments wins (/groups/sample/csv over /groups/{group_id}/csv).
func (v *responseValidator) route(path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, bestLiterals := "", -1
	for p := range v.paths {
		ps := strings.Split(p, "/")
		if len(ps) != len(segs) {
			continue
		}
		literals := 0
		match := true
		for i, s := range ps {
			switch {
			case strings.HasPrefix(s, "{"):
			case s == segs[i]:
				literals++
			default:
				match = false
			}
		}
		if match && literals > bestLiterals {
			best, bestLiterals = p, literals
		}
	}
	return best, bestLiterals >= 0
}

// check returns what is wrong with a response, or "" when it is as documented.
func (v *responseValidator) check(method, rawPath string, status int, contentType string, body []byte) string {
	path, _, _ := strings.Cut(rawPath, "?")
	route, ok := v.route(path)
	if !ok {
		return "" // not a route (404 of the router): nothing documents it
	}
	op, ok := v.paths[route][strings.ToLower(method)].(map[string]any)
	if !ok {
		return ""
	}
	responses, _ := op["responses"].(map[string]any)
	code := fmt.Sprint(status)
	if _, ok := responses[code]; !ok {
		if status < 400 {
			return fmt.Sprintf("status %d is not documented (documented: %v)", status, slices.Sorted(mapKeys(responses)))
		}
		code = "default"
	}
	resp, _ := responses[code].(map[string]any)
	content, _ := resp["content"].(map[string]any)
	mediaType, _, _ := strings.Cut(contentType, ";")
	if mediaType = strings.TrimSpace(mediaType); status < 400 && len(body) > 0 && mediaType != "application/json" && len(content) > 0 {
		// A success in another media type (CSV, audio) must be one its
		// operation documents, so a client knows to expect it.
		major, _, _ := strings.Cut(mediaType, "/")
		if content[mediaType] == nil && content[major+"/*"] == nil && content["*/*"] == nil {
			return fmt.Sprintf("answered %s where %d documents %v", mediaType, status, slices.Sorted(mapKeys(content)))
		}
	}
	if !strings.HasPrefix(contentType, "application/json") || len(body) == 0 {
		return ""
	}
	if _, ok := content["application/json"]; !ok {
		if status >= 400 || len(content) == 0 {
			return ""
		}
		return fmt.Sprintf("answered JSON where %d documents %v", status, slices.Sorted(mapKeys(content)))
	}
	ptr := "openapi.json#/paths/" + escapePointer(route) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/application~1json/schema"
	schema, err := v.schema(ptr)
	if err != nil {
		return "schema: " + err.Error()
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return "body is not JSON: " + err.Error()
	}
	if err := schema.Validate(inst); err != nil {
		return fmt.Sprintf("%d body does not match its schema: %v", status, err)
	}
	return ""
}

func (v *responseValidator) schema(ptr string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.schemas[ptr]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(ptr)
	if err != nil {
		return nil, err
	}
	v.schemas[ptr] = s
	return s, nil
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkResponse fails the test when a response is not what /openapi.json
// says its route answers.
func (e *env) checkResponse(method, path string, res *http.Response, body []byte) {
	e.t.Helper()
	if e.srv == nil || len(e.srv.openapiDoc) == 0 {
		return
	}
	if msg := validatorFor(e.t, e.srv.openapiDoc).check(method, path, res.StatusCode, res.Header.Get("Content-Type"), body); msg != "" {
		e.t.Errorf("%s %s: /openapi.json: %s\n%s", method, path, msg, truncate(body, 600))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// TestResponseValidatorCatches: a body that breaks its schema, and an
// undocumented success status, are reported.
func TestResponseValidatorCatches(t *testing.T) {
	e := newEnv(t)
	v := validatorFor(t, e.srv.openapiDoc)
	if msg := v.check("GET", "/users/1", 200, "application/json", []byte(`{"user_id": "one"}`)); msg == "" {
		t.Error("a string user_id passed the User schema")
	}
	if msg := v.check("GET", "/healthz", 201, "application/json", []byte(`{}`)); !strings.Contains(msg, "not documented") {
		t.Errorf("an undocumented 201: %q", msg)
	}
	if msg := v.check("GET", "/users/1", 404, "application/json", []byte(`{"error": {"code": 404, "message": "no"}}`)); msg != "" {
		t.Errorf("a documented 404: %s", msg)
	}
	if msg := v.check("GET", "/users/1", 404, "application/json", []byte(`{"message": "no"}`)); msg == "" {
		t.Error("a 404 in another surface's shape passed")
	}
	if msg := v.check("GET", "/users/1", 200, "text/csv; charset=utf-8", []byte("a,b\r\n")); !strings.Contains(msg, "text/csv") {
		t.Errorf("an undocumented text/csv answer: %q", msg)
	}
	if msg := v.check("GET", "/groups/sample/csv", 200, "text/csv; charset=utf-8", []byte("a,b\r\n")); msg != "" {
		t.Errorf("a documented text/csv answer: %s", msg)
	}
}
