package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestOpenAPICoversEveryRoute is the drift test: every route the router
// serves has an entry in routeDocs, and every entry is a served route.
// Adding a route without its line in routeDocs fails here.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	missing, stale, dup := docDrift(e.srv.engine.Routes(), routeDocs())
	for _, r := range missing {
		t.Errorf("served but not documented in routeDocs (api/openapi.go): %s", r)
	}
	for _, r := range stale {
		t.Errorf("documented in routeDocs but not served: %s", r)
	}
	for _, r := range dup {
		t.Errorf("documented twice in routeDocs: %s", r)
	}
}

// TestDocDriftDetects shows the drift test can fail, both ways.
func TestDocDriftDetects(t *testing.T) {
	routes := gin.RoutesInfo{{Method: "GET", Path: "/a"}, {Method: "POST", Path: "/b/:b_id"}}
	docs := []routeDoc{
		{"GET", "/a", "T", "a", noToken, nil, nil},
		{"GET", "/c", "T", "c", noToken, nil, nil},
		{"GET", "/a", "T", "a again", noToken, nil, nil},
	}
	missing, stale, dup := docDrift(routes, docs)
	if strings.Join(missing, ",") != "POST /b/:b_id" || strings.Join(stale, ",") != "GET /c" || strings.Join(dup, ",") != "GET /a" {
		t.Errorf("drift: missing %v, stale %v, dup %v", missing, stale, dup)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("GET", "/openapi.json", "", nil), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Summary     string           `json:"summary"`
			Security    []map[string]any `json:"security"`
			Parameters  []map[string]any `json:"parameters"`
			RequestBody map[string]any   `json:"requestBody"`
			Responses   map[string]any   `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, route := range e.srv.engine.Routes() {
		path, params := openAPIPath(route.Path)
		op, ok := doc.Paths[path][strings.ToLower(route.Method)]
		if !ok {
			t.Errorf("%s %s is not in the document", route.Method, path)
			continue
		}
		if op.Summary == "" || op.Summary == "undocumented" {
			t.Errorf("%s %s has no summary", route.Method, path)
		}
		_, notAllowed := op.Responses["405"]
		_, ok200 := op.Responses["200"]
		_, ok201 := op.Responses["201"]
		if !notAllowed && !ok200 && !ok201 {
			t.Errorf("%s %s documents no 200 or 201", route.Method, path)
		}
		// Every operation documents the 4xx answers it gives.
		var has4xx bool
		for code := range op.Responses {
			has4xx = has4xx || strings.HasPrefix(code, "4")
		}
		if !has4xx && route.Path != "/healthz" && route.Path != "/openapi.json" && route.Path != "/readyz" && route.Path != "/" {
			t.Errorf("%s %s documents no 4xx answer", route.Method, path)
		}
		public := route.Path == "/healthz" || route.Path == "/readyz" || route.Path == "/openapi.json" || route.Path == "/authenticate" || route.Path == "/metrics" || route.Path == "/media/:name" ||
			route.Path == "/" || route.Path == "/ui/:file" // the live page: its script logs in
		if public != (len(op.Security) == 0) {
			t.Errorf("%s %s: security %v", route.Method, path, op.Security)
		}
		var inPath int
		for _, p := range op.Parameters {
			if p["in"] == "path" {
				inPath++
			}
		}
		if inPath != len(params) {
			t.Errorf("%s %s: %d path parameters documented, want %d", route.Method, path, inPath, len(params))
		}
	}
	// The examples of the brief: the create answer, the voicetts body, and
	// the write-only password (in the request, never in the answer).
	if got := doc.Paths["/programs/voicetts"]["post"].RequestBody; got == nil {
		t.Error("POST /programs/voicetts has no request body")
	}
	for _, tc := range []struct {
		schema, prop string
		present      bool
	}{
		{"ProgramVoiceTTS", "text", true},
		{"ProgramVoiceTTS", "language", true},
		{"ProgramCreated", "program_id", true},
		{"Program", "parent_id", true},
		{"ProviderRequest", "password", true},
		{"Provider", "password", false},
		{"Provider", "dialstring", true},
		{"Account", "passwd", false},
		{"Account", "programs", true},
		{"AccountRequest", "passwd_pin", true},
		{"User", "roles", true},
	} {
		s, ok := doc.Components.Schemas[tc.schema]
		if !ok {
			t.Errorf("no schema %s among %v", tc.schema, reflect.ValueOf(doc.Components.Schemas).MapKeys())
			continue
		}
		if _, has := s.Properties[tc.prop]; has != tc.present {
			t.Errorf("schema %s property %s present = %v, want %v", tc.schema, tc.prop, has, tc.present)
		}
	}
	// Every $ref names a schema that exists.
	var raw any
	json.Unmarshal(r.Body, &raw)
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, isSchema := strings.CutPrefix(ref, "#/components/schemas/")
				if _, exists := doc.Components.Schemas[name]; isSchema && !exists {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(raw)
}

func TestSchemaReflection(t *testing.T) {
	type inner struct {
		Shadowed int `json:"a"`
		Deep     int `json:"deep"`
	}
	type outer struct {
		inner
		A       string            `json:"a"`
		Skip    string            `json:"-"`
		Phone   flexString        `json:"phone"`
		Opt     *int64            `json:"opt,omitempty"`
		List    []string          `json:"list"`
		Map     map[string]string `json:"map"`
		Num     int64             `json:"num,string"`
		private int
	}
	b := &schemaBuilder{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	ref := b.schemaOf(reflect.TypeFor[outer]())
	if ref["$ref"] != "#/components/schemas/Outer" {
		t.Fatalf("ref %v", ref)
	}
	props := b.schemas["Outer"].(map[string]any)["properties"].(map[string]any)
	want := map[string]string{
		"a": `{"type":"string"}`, "deep": `{"format":"int64","type":"integer"}`, "opt": `{"format":"int64","type":["integer","null"]}`,
		"list": `{"items":{"type":"string"},"type":"array"}`, "map": `{"additionalProperties":{"type":"string"},"type":"object"}`,
		"num": `{"type":"string"}`,
	}
	for k, w := range want {
		got, _ := json.Marshal(props[k])
		if string(got) != w {
			t.Errorf("%s: %s, want %s", k, got, w)
		}
	}
	for _, k := range []string{"Skip", "-", "private", "Shadowed", "inner"} {
		if _, ok := props[k]; ok {
			t.Errorf("property %s should not be there", k)
		}
	}
	if _, ok := props["phone"]; !ok || len(props) != len(want)+1 {
		t.Errorf("properties %v", props)
	}
	// An answered type requires what encoding/json always writes: all but
	// the omitempty fields.
	if got, _ := json.Marshal(b.schemas["Outer"].(map[string]any)["required"]); string(got) != `["a","deep","list","map","num","phone"]` {
		t.Errorf("required %s", got)
	}
}

// TestSchemaRequestRequiredAndTags: a request body requires only its
// tagged fields (always in the component, create on POST), and the enum,
// example, minimum and schema tags reach the schema.
func TestSchemaRequestRequiredAndTags(t *testing.T) {
	type body struct {
		Name  *string         `json:"name" required:"create" example:"x"`
		Key   string          `json:"key" required:"always"`
		Flag  *int64          `json:"flag" enum:"1,2"`
		CPM   int             `json:"cpm" minimum:"1"`
		Start json.RawMessage `json:"start" schema:"daytime"`
	}
	docs := []routeDoc{{"POST", "/b", "T", "b", noToken, body{}, nil}}
	b := newSchemaBuilder(docs)
	b.schemaOf(reflect.TypeFor[body]())
	comp := b.schemas["Body"].(map[string]any)
	got, _ := json.Marshal(comp)
	want := `{"properties":{"cpm":{"format":"int64","minimum":1,"type":"integer"},` +
		`"flag":{"enum":[1,2,null],"format":"int64","type":["integer","null"]},` +
		`"key":{"type":"string"},"name":{"examples":["x"],"type":["string","null"]},` +
		`"start":{"description":"a time of day HH:MM, 00:00 to 24:00, in window_tz","examples":["09:00"],"pattern":"^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$","type":["string","null"]}},` +
		`"required":["key"],"type":"object"}`
	if string(got) != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	if got := b.createRequired(body{}); !slices.Equal(got, []string{"name"}) {
		t.Errorf("create requires %v", got)
	}
}
