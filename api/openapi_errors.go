package api

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// Each surface answers errors in its own document's shape; /openapi.json
// lists an operation's 4xx answers in the shape of the surface its path
// belongs to.

// surface is one API surface as /openapi.json documents its errors.
type surface struct {
	prefix      string // paths under it; "" is the ICTCore root
	schema      string // the component name of its error body
	description string
	errorSchema func(b *schemaBuilder) map[string]any
}

// apiSurfaces are the surfaces, the ICTCore root last (its prefix matches
// every path).
func apiSurfaces() []surface {
	return []surface{
		{prefix: "/api/v1.0/", schema: "PbxError", description: "an error in the PBX surface's envelope",
			errorSchema: func(b *schemaBuilder) map[string]any { return b.object(reflect.TypeFor[pbxErrorBody]()) }},
		{prefix: "/api/accounts", schema: "AccountErrorBody", description: `an error of the tenant accounts surface: {"statusCode", "error", "message"}`,
			errorSchema: func(b *schemaBuilder) map[string]any { return b.object(reflect.TypeFor[accountErrorBody]()) }},
		{prefix: "/v2/", schema: "CrossbarError", description: "an error in the crossbar envelope",
			errorSchema: func(*schemaBuilder) map[string]any {
				str := map[string]any{"type": "string"}
				return map[string]any{"type": "object", "required": []string{"data", "error", "message", "status"},
					"properties": map[string]any{"data": map[string]any{"type": "object"}, "error": str, "message": str,
						"status": map[string]any{"type": "string", "enum": []any{"error"}}, "request_id": str}}
			}},
		{prefix: "", schema: "IctcoreError", description: "an error in the ICTCore envelope",
			errorSchema: func(b *schemaBuilder) map[string]any { return b.object(reflect.TypeFor[ictcoreError]()) }},
	}
}

// surfaceOf is the surface a path belongs to.
func surfaceOf(path string) surface {
	all := apiSurfaces()
	for _, s := range all {
		if strings.HasPrefix(path, s.prefix) {
			return s
		}
	}
	return all[len(all)-1]
}

// statusMeaning is what each documented error status says, whatever the surface.
func statusMeaning() map[int]string {
	return map[int]string{
		http.StatusBadRequest:            "the body cannot be read as this resource (not JSON, wrong type, trailing data)",
		http.StatusUnauthorized:          "no valid token (or, at log-in, wrong credentials)",
		http.StatusForbidden:             "the token's user may not do this, or the resource is another user's",
		http.StatusNotFound:              "no such resource in the caller's tenant",
		http.StatusConflict:              "the resource is in use, or the change conflicts with its state",
		http.StatusRequestEntityTooLarge: "the body is larger than the limit",
		http.StatusPreconditionFailed:    "validation failed: fields names each bad field and why",
		http.StatusLocked:                "dialerd is starting or draining, or the engine is busy; retry",
		http.StatusTooManyRequests:       "too many attempts; Retry-After says when to retry",
		http.StatusMethodNotAllowed:      "not a method of this path (invalid_method)",
	}
}

// response is the answer of status code in s's shape; 0 is the default
// (any other error, including 5xx with a request id).
func (s surface) response(code int) map[string]any {
	desc := statusMeaning()[code]
	if code == 0 {
		desc = "any other error: " + s.description
	}
	return map[string]any{"description": desc, "content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + s.schema}}}}
}

// errorStatuses are the 4xx answers route d can give, from what it takes:
// credentials, path parameters, a body, an upload, a delete. The PBX
// surface answers validation with 400, the ICTCore one with 412.
func errorStatuses(d routeDoc, params []string) []int {
	var codes []int
	add := func(c ...int) { codes = append(codes, c...) }
	ictcore := surfaceOf(d.path).prefix == ""
	if d.auth {
		add(http.StatusUnauthorized, http.StatusForbidden)
	}
	if len(params) > 0 {
		add(http.StatusNotFound)
	}
	if d.req != nil {
		add(http.StatusBadRequest, http.StatusRequestEntityTooLarge)
		if ictcore {
			add(http.StatusPreconditionFailed)
		}
	}
	if d.method == http.MethodDelete || (d.req != nil && d.method != http.MethodPost) {
		add(http.StatusConflict)
	}
	if d.path == "/metrics" || d.path == "/media/:name" {
		add(http.StatusForbidden) // metrics.access, or a bad or expired signature
	}
	if d.path == "/authenticate" {
		add(http.StatusUnauthorized, http.StatusTooManyRequests)
	}
	if ictcore && d.auth {
		add(http.StatusLocked, http.StatusTooManyRequests)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

// tagDescriptions describe the tags of /openapi.json; a tag without one
// is described by its name.
func tagDescriptions() map[string]string {
	return map[string]string{
		"Service":          "Health, readiness, metrics and this document.",
		"Live status":      "The websocket of engine events.",
		"Authenticate":     "Log in for a bearer token.",
		"Users":            "Users of the tenant, their roles and permissions.",
		"Programs":         "What a transmission sends or receives: SMS, email, fax, a recording, text to speech, and the inbound types.",
		"Accounts":         "Extensions, DIDs and email accounts, their programs and settings.",
		"Providers":        "Trunks and gateways: FreeSWITCH, SIP trunks, SMS and SMTP services.",
		"Contacts":         "The people transmissions and campaigns reach.",
		"Groups":           "Contact groups a campaign runs over, with CSV import and export.",
		"Fax documents":    "PDF or TIFF documents for fax programs.",
		"Voice recordings": "Recordings for voice message programs.",
		"Email templates":  "Templates for email programs.",
		"SMS texts":        "Texts for SMS and text-to-speech programs.",
		"Transmissions":    "One program to one contact, its sending, retry and schedule.",
		"Campaigns":        "One program over a group, paced by calls per minute.",
		"Reports":          "Statuses and results of transmissions and spools, and totals.",
		"PBX profiles":     "Connection profiles of the PBXs: FreeSWITCH nodes, Kazoo and 3CX.",
	}
}
