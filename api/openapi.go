package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// GET /openapi.json describes every route the router serves, and cannot
// drift from it: the paths and methods come from gin's engine.Routes(), and
// each is joined with its entry in routeDocs (summary, tag, credentials,
// request and response types). Body schemas are derived by reflection from
// the Go types the handlers decode and answer, following their json tags.
// TestOpenAPICoversEveryRoute fails when a served route has no entry or an
// entry names a route that is not served.
//
// Documenting a new route is one line in routeDocs, in its family's block:
//
//	{"GET", "/contacts/:contact_id", "Contacts", "View a contact", needsToken, nil, dialer.Contact{}},
//
// path is the gin pattern as registered; req and resp are zero values of
// the request and response types (nil: no body). A slice response makes a
// list, documented with the paging parameters. For bodies that have no Go
// type use objectOf("field", "type", ...), csvText{} or emptyObject{}.

// routeDoc documents one route.
type routeDoc struct {
	method, path string
	tag, summary string
	auth         bool // needs a bearer token
	req, resp    any
}

// answer as a route's response documents another success status than 200,
// or more statuses answered with the same body (readiness: 503).
type answer struct {
	status int // 200 when 0
	body   any
	also   []int
}

// Credentials a route needs, for readable routeDocs lines.
const (
	needsToken = true
	noToken    = false
)

// emptyObject is the {} that a delete answers.
type emptyObject struct{}

// csvText is a text/csv body.
type csvText string

// jsonOrCSV is a body answered as JSON, or as text/csv when asked for
// (?format=csv or Accept: text/csv).
type jsonOrCSV struct{ body any }

// mediaFile is a file body: raw bytes, or multipart/form-data with a file part.
type mediaFile string

// download is a file answered in one of these media types (a range such
// as */* for a file kept in the type it was uploaded as).
type download []string

// jsonSchema is a schema written by hand, used as is.
type jsonSchema map[string]any

// objectOf is a hand-written object schema: pairs of property name and JSON type.
func objectOf(pairs ...string) jsonSchema {
	props := map[string]any{}
	var required []string
	for i := 0; i+1 < len(pairs); i += 2 {
		props[pairs[i]] = map[string]any{"type": pairs[i+1]}
		if pairs[i+1] == "integer" {
			props[pairs[i]] = map[string]any{"type": "integer", "format": "int64"}
		}
		required = append(required, pairs[i])
	}
	// Every field of these small bodies is always there, asked or answered.
	return jsonSchema{"type": "object", "properties": props, "required": required}
}

// routeDocs documents every route; see the comment at the top of this file.
func routeDocs() []routeDoc {
	return append([]routeDoc{
		// Service.
		{"GET", "/healthz", "Service", "Liveness: the process answers", noToken, nil, objectOf("status", "string")},
		{"GET", "/readyz", "Service", "Readiness: the store and gateways answer (200), or not (503, same body); optional checks (sip trunks, campaigns: the blocked campaigns with whose fault and the field to fix) are shown in checks but never make it not ready", noToken, nil,
			answer{body: jsonSchema{"type": "object", "required": []string{"status", "checks"}, "properties": map[string]any{
				"status": map[string]any{"type": "string", "examples": []any{"ready"}},
				"checks": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}},
				also: []int{http.StatusServiceUnavailable}}},
		{"GET", "/openapi.json", "Service", "This description of the API", noToken, nil, jsonSchema{"type": "object"}},
		{"GET", "/media/:name", "Service", "A recording for a FreeSWITCH node: <hash>.wav?exp=&sig= (a signed, expiring URL; no token)", noToken, nil, download{"audio/wav"}},
		{"GET", "/metrics", "Service", "Prometheus metrics in the text exposition format (who may read them: metrics.access)", noToken, nil, download{"text/plain"}},
		{"GET", "/ws", "Live status", "Websocket of engine events; token in ?token= or the usual headers; send {\"subscribe\": {\"campaign_id\": N}} to narrow, {\"subscribe\": {}} to widen", needsToken, nil, dialer.Event{}},

		// Authenticate and users.
		{"POST", "/authenticate", "Authenticate", "Log in: a JWT for the Authorization header", noToken, loginRequest{}, objectOf("token", "string")},
		{"POST", "/users", "Users", "Create a user", needsToken, userRequest{}, objectOf("user_id", "integer")},
		{"GET", "/users", "Users", "List users", needsToken, nil, []dialer.User{}},
		{"GET", "/users/csv", "Users", "Export users as CSV; a cell that begins like a formula (= + - @ tab CR) is guarded with a leading '", needsToken, nil, csvText("")},
		{"POST", "/users/csv", "Users", "Import users from CSV, all or none", needsToken, csvText(""),
			jsonSchema{"type": "object", "properties": map[string]any{"created": map[string]any{"type": "integer"},
				"user_ids": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}}}},
		{"GET", "/users/:user_id", "Users", "View a user", needsToken, nil, dialer.User{}},
		{"PUT", "/users/:user_id", "Users", "Update a user", needsToken, userRequest{}, dialer.User{}},
		{"DELETE", "/users/:user_id", "Users", "Delete a user", needsToken, nil, emptyObject{}},
		{"PUT", "/users/:user_id/password", "Users", "Change a user's password", needsToken, objectOf("password", "string"), dialer.User{}},
		{"PUT", "/users/:user_id/roles/:role_id", "Users", "Grant a role", needsToken, nil, dialer.User{}},
		{"DELETE", "/users/:user_id/roles/:role_id", "Users", "Revoke a role", needsToken, nil, dialer.User{}},
		{"PUT", "/users/:user_id/permissions/:permission_id", "Users", "Grant a permission", needsToken, nil, dialer.User{}},
		{"DELETE", "/users/:user_id/permissions/:permission_id", "Users", "Revoke a permission", needsToken, nil, dialer.User{}},

		// Programs.
		{"GET", "/programs", "Programs", "List programs", needsToken, nil, []dialer.Program{}},
		{"GET", "/programs/:program_id", "Programs", "View a program", needsToken, nil, dialer.Program{}},
		{"DELETE", "/programs/:program_id", "Programs", "Delete a program (409 while a transmission or campaign uses it)", needsToken, nil, emptyObject{}},
		{"POST", "/programs/sendsms", "Programs", "Create a send SMS program", needsToken, programSendSMS{}, programCreated{}},
		{"POST", "/programs/sendemail", "Programs", "Create a send email program", needsToken, programSendEmail{}, programCreated{}},
		{"POST", "/programs/sendfax", "Programs", "Create a send fax program", needsToken, programSendFax{}, programCreated{}},
		{"POST", "/programs/voicemessage", "Programs", "Create a voice message program", needsToken, programVoiceMessage{}, programCreated{}},
		{"POST", "/programs/voicetts", "Programs", "Create a voice TTS program (text or text_id); the gateways that would speak it check the text (412 naming text or text_id)", needsToken, programVoiceTTS{}, programCreated{}},
		{"POST", "/programs/receivesms", "Programs", "Create a receive SMS program", needsToken, programForAccount{}, programCreated{}},
		{"POST", "/programs/receiveemail", "Programs", "Create a receive email program", needsToken, programForAccount{}, programCreated{}},
		{"POST", "/programs/receivefax", "Programs", "Create a receive fax program", needsToken, programForAccount{}, programCreated{}},
		{"POST", "/programs/emailtofax", "Programs", "Create an email to fax program", needsToken, programForAccount{}, programCreated{}},
		{"POST", "/programs/faxtoemail", "Programs", "Create a fax to email program", needsToken, programForAccount{}, programCreated{}},

		// Accounts.
		{"POST", "/accounts", "Accounts", "Create an account (extension, did or email)", needsToken, accountRequest{}, accountCreated{}},
		{"GET", "/accounts", "Accounts", "List accounts", needsToken, nil, []dialer.Account{}},
		{"GET", "/accounts/:account_id", "Accounts", "View an account", needsToken, nil, dialer.Account{}},
		{"PUT", "/accounts/:account_id", "Accounts", "Update an account", needsToken, accountRequest{}, dialer.Account{}},
		{"DELETE", "/accounts/:account_id", "Accounts", "Delete an account (409 while a program uses it)", needsToken, nil, emptyObject{}},
		{"PUT", "/accounts/:account_id/programs/:program_id", "Accounts", "Subscribe an account to a program", needsToken, nil, dialer.Account{}},
		{"DELETE", "/accounts/:account_id/programs/:program_id", "Accounts", "Unsubscribe an account from a program", needsToken, nil, dialer.Account{}},
		{"DELETE", "/accounts/:account_id/programs", "Accounts", "Unsubscribe an account from every program", needsToken, nil, dialer.Account{}},
		{"PUT", "/accounts/:account_id/users/:user_id", "Accounts", "Assign an account to a user", needsToken, nil, dialer.Account{}},
		{"DELETE", "/accounts/:account_id/users", "Accounts", "Free an account from its user", needsToken, nil, dialer.Account{}},
		{"GET", "/accounts/:account_id/settings/:name", "Accounts", "Read an account setting", needsToken, nil, accountSetting{}},
		{"PUT", "/accounts/:account_id/settings/:name", "Accounts", "Create or replace an account setting", needsToken, accountSetting{}, accountSetting{}},
		{"DELETE", "/accounts/:account_id/settings/:name", "Accounts", "Delete an account setting", needsToken, nil, emptyObject{}},

		// Providers.
		{"POST", "/providers", "Providers", "Create a provider (password write-only); its gateway checks it (412 naming the field or config key, e.g. prefix, username, sip.listen)", needsToken, providerRequest{}, providerCreated{}},
		{"GET", "/providers", "Providers", "List providers", needsToken, nil, []dialer.Provider{}},
		{"GET", "/providers/:provider_id", "Providers", "View a provider", needsToken, nil, dialer.Provider{}},
		{"PUT", "/providers/:provider_id", "Providers", "Update a provider; its gateway checks it as on create", needsToken, providerRequest{}, dialer.Provider{}},
		{"DELETE", "/providers/:provider_id", "Providers", "Delete a provider", needsToken, nil, emptyObject{}},

		// Contacts and groups.
		{"POST", "/contacts", "Contacts", "Create a contact (phone normalised to E.164)", needsToken, contactRequest{}, objectOf("contact_id", "integer")},
		{"GET", "/contacts", "Contacts", "List contacts", needsToken, nil, []dialer.Contact{}},
		{"GET", "/contacts/:contact_id", "Contacts", "View a contact", needsToken, nil, dialer.Contact{}},
		{"PUT", "/contacts/:contact_id", "Contacts", "Update a contact", needsToken, contactRequest{}, dialer.Contact{}},
		{"DELETE", "/contacts/:contact_id", "Contacts", "Delete a contact (409 while a transmission uses it)", needsToken, nil, emptyObject{}},
		{"PUT", "/contacts/:contact_id/link/:group_id", "Contacts", "Add a contact to a group", needsToken, nil, emptyObject{}},
		{"DELETE", "/contacts/:contact_id/link/:group_id", "Contacts", "Remove a contact from a group", needsToken, nil, emptyObject{}},
		{"POST", "/groups", "Groups", "Create a group", needsToken, groupRequest{}, objectOf("group_id", "integer")},
		{"GET", "/groups", "Groups", "List groups", needsToken, nil, []groupJSON{}},
		{"GET", "/groups/sample/csv", "Groups", "A sample contacts CSV file", needsToken, nil, csvText("")},
		{"GET", "/groups/:group_id", "Groups", "View a group", needsToken, nil, groupJSON{}},
		{"PUT", "/groups/:group_id", "Groups", "Update a group", needsToken, groupRequest{}, groupJSON{}},
		{"DELETE", "/groups/:group_id", "Groups", "Delete a group (its contacts stay; 409 while a campaign uses it)", needsToken, nil, emptyObject{}},
		{"GET", "/groups/:group_id/contacts", "Groups", "List a group's contacts", needsToken, nil, []dialer.Contact{}},
		{"POST", "/groups/:group_id/csv", "Groups", "Import contacts from CSV (text/csv, streamed, or a multipart file part; form fields count in any order); " +
			"?atomic=true for all or none. " +
			"The counts are disjoint, one per data row: imported created a contact, existing matched one by phone " +
			"(linked, not changed), failed was rejected. Rows that would create contacts beyond the plan's contacts limit fail on their " +
			"lines (over_limit, with a summary in limit); atomic, they write nothing (403 when only the plan refused rows)", needsToken, csvText(""), dialer.ImportResult{}},
		{"GET", "/groups/:group_id/csv", "Groups", "Export a group's contacts as CSV, streamed; a cell that begins like a formula (= + - @ tab CR) is guarded with a leading '", needsToken, nil, csvText("")},

		// Messages: documents, recordings, templates, texts.
		{"POST", "/messages/documents", "Fax documents", "Create a document", needsToken, messageRequest{}, objectOf("document_id", "integer")},
		{"GET", "/messages/documents", "Fax documents", "List documents", needsToken, nil, []dialer.Document{}},
		{"GET", "/messages/documents/:document_id", "Fax documents", "View a document", needsToken, nil, dialer.Document{}},
		{"PUT", "/messages/documents/:document_id", "Fax documents", "Update a document", needsToken, messageRequest{}, dialer.Document{}},
		{"DELETE", "/messages/documents/:document_id", "Fax documents", "Delete a document (409 while a program uses it)", needsToken, nil, emptyObject{}},
		{"PUT", "/messages/documents/:document_id/media", "Fax documents", "Upload the document file (checked: PDF or TIFF)", needsToken, mediaFile(""), objectOf("document_id", "integer")},
		{"POST", "/messages/documents/:document_id/media", "Fax documents", "Upload the document file (same as PUT)", needsToken, mediaFile(""), objectOf("document_id", "integer")},
		{"GET", "/messages/documents/:document_id/media", "Fax documents", "Download the document file (PDF or TIFF as kept; a received mail's other attachments, type bin, as application/octet-stream)", needsToken, nil, download{"application/pdf", "image/tiff", "application/octet-stream"}},
		{"POST", "/messages/recordings", "Voice recordings", "Create a recording", needsToken, messageRequest{}, objectOf("recording_id", "integer")},
		{"GET", "/messages/recordings", "Voice recordings", "List recordings", needsToken, nil, []dialer.Recording{}},
		{"GET", "/messages/recordings/:recording_id", "Voice recordings", "View a recording", needsToken, nil, dialer.Recording{}},
		{"PUT", "/messages/recordings/:recording_id", "Voice recordings", "Update a recording", needsToken, messageRequest{}, dialer.Recording{}},
		{"DELETE", "/messages/recordings/:recording_id", "Voice recordings", "Delete a recording (409 while a program uses it)", needsToken, nil, emptyObject{}},
		{"PUT", "/messages/recordings/:recording_id/media", "Voice recordings", "Upload the recording file (checked: audio, kept also as 8 kHz WAV)", needsToken, mediaFile(""), objectOf("recording_id", "integer")},
		{"POST", "/messages/recordings/:recording_id/media", "Voice recordings", "Upload the recording file (same as PUT)", needsToken, mediaFile(""), objectOf("recording_id", "integer")},
		{"GET", "/messages/recordings/:recording_id/media", "Voice recordings", "Download the recording file (WAV or MP3 as uploaded; ?format=telephony: the 8 kHz WAV)", needsToken, nil, download{"audio/wav", "audio/mpeg"}},
		{"POST", "/messages/templates", "Email templates", "Create a template", needsToken, templateRequest{}, objectOf("template_id", "integer")},
		{"GET", "/messages/templates", "Email templates", "List templates", needsToken, nil, []dialer.Template{}},
		{"GET", "/messages/templates/:template_id", "Email templates", "View a template", needsToken, nil, dialer.Template{}},
		{"PUT", "/messages/templates/:template_id", "Email templates", "Update a template", needsToken, templateRequest{}, dialer.Template{}},
		{"DELETE", "/messages/templates/:template_id", "Email templates", "Delete a template (409 while a program uses it)", needsToken, nil, emptyObject{}},
		{"PUT", "/messages/templates/:template_id/media", "Email templates", "Upload the template file", needsToken, mediaFile(""), objectOf("template_id", "integer")},
		{"POST", "/messages/templates/:template_id/media", "Email templates", "Upload the template file (same as PUT)", needsToken, mediaFile(""), objectOf("template_id", "integer")},
		{"GET", "/messages/templates/:template_id/media", "Email templates", "Download the template file, in the media type it was uploaded as", needsToken, nil, download{"*/*"}},
		{"POST", "/messages/texts", "SMS texts", "Create a text", needsToken, textRequest{}, objectOf("text_id", "integer")},
		{"GET", "/messages/texts", "SMS texts", "List texts", needsToken, nil, []dialer.Text{}},
		{"GET", "/messages/texts/:text_id", "SMS texts", "View a text", needsToken, nil, dialer.Text{}},
		{"PUT", "/messages/texts/:text_id", "SMS texts", "Update a text", needsToken, textRequest{}, dialer.Text{}},
		{"DELETE", "/messages/texts/:text_id", "SMS texts", "Delete a text (409 while a program uses it)", needsToken, nil, emptyObject{}},

		// Transmissions, campaigns, spools, reports.
		{"POST", "/transmissions", "Transmissions", "Create a transmission (one program to one contact)", needsToken, transmissionRequest{}, objectOf("transmission_id", "integer")},
		{"GET", "/transmissions", "Transmissions", "List transmissions", needsToken, nil, []dialer.Transmission{}},
		{"GET", "/transmissions/:transmission_id", "Transmissions", "View a transmission", needsToken, nil, dialer.Transmission{}},
		{"DELETE", "/transmissions/:transmission_id", "Transmissions", "Delete a transmission", needsToken, nil, emptyObject{}},
		{"POST", "/transmissions/:transmission_id/send", "Transmissions", "Send now: answers the committed spool id, not waiting for the call", needsToken, nil, objectOf("spool_id", "integer")},
		{"POST", "/transmissions/:transmission_id/retry", "Transmissions", "Retry a failed transmission: answers the committed spool id", needsToken, nil, objectOf("spool_id", "integer")},
		{"PUT", "/transmissions/:transmission_id/schedule", "Transmissions", "Schedule the transmission at a time (Unix seconds or RFC 3339)", needsToken, objectOf("time", "string"), objectOf("schedule_id", "integer")},
		{"DELETE", "/transmissions/:transmission_id/schedule", "Transmissions", "Cancel the transmission's schedule", needsToken, nil, emptyObject{}},
		{"GET", "/transmissions/:transmission_id/clone", "Transmissions", "Clone a transmission", needsToken, nil, objectOf("transmission_id", "integer")},
		{"PUT", "/programs/:program_id/transmissions", "Transmissions", "Create a transmission of this program", needsToken, transmissionRequest{}, objectOf("transmission_id", "integer")},
		{"GET", "/programs/:program_id/transmissions", "Transmissions", "List this program's transmissions", needsToken, nil, []dialer.Transmission{}},
		{"POST", "/campaigns", "Campaigns", "Create a campaign (a program over a group)", needsToken, campaignRequest{}, objectOf("campaign_id", "integer")},
		{"GET", "/campaigns", "Campaigns", "List campaigns with their counters, and why each that cannot dial is blocked", needsToken, nil, []campaignView{}},
		{"GET", "/campaigns/:campaign_id", "Campaigns", "View a campaign with its counters and progress; blocked says why an active campaign cannot dial (null while it can)", needsToken, nil, campaignView{}},
		{"PUT", "/campaigns/:campaign_id", "Campaigns", "Update a campaign (cpm may change while it runs)", needsToken, campaignRequest{}, campaignView{}},
		{"DELETE", "/campaigns/:campaign_id", "Campaigns", "Delete a campaign", needsToken, nil, emptyObject{}},
		{"PUT", "/campaigns/:campaign_id/start", "Campaigns", "Start the campaign", needsToken, nil, jsonSchema{"type": "boolean"}},
		{"PUT", "/campaigns/:campaign_id/stop", "Campaigns", "Stop the campaign", needsToken, nil, jsonSchema{"type": "boolean"}},
		{"POST", "/campaigns/:campaign_id/start/schedule", "Campaigns", "Start the campaign at a time", needsToken, objectOf("time", "string"), objectOf("schedule_id", "integer")},
		{"POST", "/campaigns/:campaign_id/stop/schedule", "Campaigns", "Stop the campaign at a time", needsToken, objectOf("time", "string"), objectOf("schedule_id", "integer")},
		{"DELETE", "/campaigns/:campaign_id/schedule", "Campaigns", "Cancel the campaign's schedules", needsToken, nil, emptyObject{}},
		{"GET", "/campaigns/:campaign_id/report", "Compliance", "The campaign's record, streamed: one row per attempt (spools, and transmissions the do-not-call scrub ended) with number, contact, UTC and local time, caller id, route, outcome, cause, SIP code, answered, billsec, DTMF, opt-out, machine detection, suppressed and by which list, then a summary; ?format=csv (or Accept: text/csv) for CSV with guarded cells and #summary rows", needsToken, nil, jsonOrCSV{reportAnswer{}}},

		// Compliance: do-not-call lists and the tenant's calling rules.
		{"GET", "/dnc", "Compliance", "List the do-not-call lists that apply to the tenant: its own and the platform's", needsToken, nil, []dialer.DNCList{}},
		{"POST", "/dnc", "Compliance", "Create a do-not-call list (tenant admin; platform: true for a platform-wide list, platform admin only); is_default lists apply to every attempt of the tenant", needsToken, dncRequest{}, dialer.DNCList{}},
		{"GET", "/dnc/:dnc_id", "Compliance", "View a do-not-call list", needsToken, nil, dialer.DNCList{}},
		{"PUT", "/dnc/:dnc_id", "Compliance", "Update a do-not-call list's name, description, is_default", needsToken, dncRequest{}, dialer.DNCList{}},
		{"DELETE", "/dnc/:dnc_id", "Compliance", "Delete a do-not-call list and its numbers", needsToken, nil, emptyObject{}},
		{"GET", "/dnc/:dnc_id/numbers", "Compliance", "A page of a list's numbers (limit ≤ 1000, offset), in number order", needsToken, nil, []dialer.DNCNumber{}},
		{"POST", "/dnc/:dnc_id/numbers", "Compliance", "Add up to 10000 numbers (national ones completed with phone.default_country_code) with optional expires_at (Unix s, RFC 3339 or YYYY-MM-DD); suppressed from the next dispatch on", needsToken, dncNumbersRequest{}, objectOf("added", "integer")},
		{"DELETE", "/dnc/:dnc_id/numbers/:number", "Compliance", "Take a number off a list", needsToken, nil, emptyObject{}},
		{"GET", "/dnc/:dnc_id/csv", "Compliance", "Export a list as CSV: number, expires_at (streamed; cells guarded)", needsToken, nil, csvText("")},
		{"POST", "/dnc/:dnc_id/csv", "Compliance", "Import numbers from CSV (text/csv streamed, or multipart file): header with number (or phone) and optional expires_at; valid rows are imported, rejected ones listed", needsToken, csvText(""), dialer.ImportResult{}},
		{"GET", "/compliance", "Compliance", "The tenant's default calling window (called party's local time) and redial limit (attempts per number per rolling 24 h across campaigns)", needsToken, nil, complianceView{}},
		{"PUT", "/compliance", "Compliance", "Change the tenant's default calling window (window_start, window_end, window_days) and redial_limit (1-100); tenant admin", needsToken, complianceView{}, complianceView{}},
		{"GET", "/transmissions/:transmission_id/status", "Reports", "A transmission's status", needsToken, nil, objectOf("status", "string")},
		{"GET", "/transmissions/:transmission_id/detail", "Reports", "A transmission's attempts (spools)", needsToken, nil, []dialer.Spool{}},
		{"GET", "/transmissions/:transmission_id/result", "Reports", "What a transmission's attempts produced", needsToken, nil, []dialer.SpoolResult{}},
		{"GET", "/spools/:spool_id/status", "Reports", "A spool's status", needsToken, nil, objectOf("status", "string")},
		{"GET", "/spools/:spool_id/result", "Reports", "What a spool produced (dtmf, hangup, …)", needsToken, nil, []dialer.SpoolResult{}},
		{"GET", "/statistics", "Reports", "Totals: campaigns, groups, contacts, transmissions, spools", needsToken, nil, dialer.Statistics{}},

		// Other surfaces: PBX profiles, tenant accounts, crossbar.
		{"POST", "/api/v1.0/customers/:tenantId/pbxs", "PBX profiles", "Create a PBX profile (_type KazooPbxConnectionProfile, ThreeCxConnectionProfile or FreeSwitchConnectionProfile); 201 with Location; an enabled FreeSWITCH profile connects at once", needsToken, pbxRequest{}, answer{status: http.StatusCreated, body: pbxProfileAnswer{}}},
		{"GET", "/api/v1.0/customers/:tenantId/pbxs", "PBX profiles", "List the tenant's PBX profiles (secrets masked)", needsToken, nil, pbxListAnswer{}},
		{"GET", "/api/v1.0/customers/:tenantId/pbxs/:pbxId", "PBX profiles", "View a PBX profile (secrets masked)", needsToken, nil, pbxProfileAnswer{}},
		{"PUT", "/api/v1.0/customers/:tenantId/pbxs/:pbxId", "PBX profiles", "Update a PBX profile (fields sent; a masked or absent secret is kept); disabling a FreeSWITCH profile drains its node", needsToken, pbxRequest{}, pbxProfileAnswer{}},
		{"PATCH", "/api/v1.0/customers/:tenantId/pbxs/:pbxId", "PBX profiles", "Update a PBX profile (same as PUT)", needsToken, pbxRequest{}, pbxProfileAnswer{}},
		{"DELETE", "/api/v1.0/customers/:tenantId/pbxs/:pbxId", "PBX profiles", "Delete a PBX profile; a FreeSWITCH node drains", needsToken, nil, pbxDeletedAnswer{}},
	}, append(tenantDocs(), append(crossbarDocs(), uiDocs()...)...)...)
}

// docDrift compares served routes with docs: missing are served routes
// without an entry, stale are entries for routes not served, dup are
// entries given twice. Each is "METHOD path".
func docDrift(routes gin.RoutesInfo, docs []routeDoc) (missing, stale, dup []string) {
	served := map[string]bool{}
	for _, r := range routes {
		served[r.Method+" "+r.Path] = true
	}
	documented := map[string]bool{}
	for _, d := range docs {
		k := d.method + " " + d.path
		if documented[k] {
			dup = append(dup, k)
		}
		documented[k] = true
		if !served[k] {
			stale = append(stale, k)
		}
	}
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	return missing, stale, dup
}

// buildOpenAPI describes routes, joined with docs, as OpenAPI 3.1. A served
// route without an entry is still listed, marked undocumented, so the
// document never hides what the server does.
func buildOpenAPI(routes gin.RoutesInfo, docs []routeDoc) ([]byte, error) {
	byRoute := map[string]routeDoc{}
	for _, d := range docs {
		byRoute[d.method+" "+d.path] = d
	}
	b := newSchemaBuilder(docs)
	paths := map[string]map[string]any{}
	var tags []string
	opIDs := map[string]bool{}
	for _, r := range routes {
		d, ok := byRoute[r.Method+" "+r.Path]
		if !ok {
			d = routeDoc{method: r.Method, path: r.Path, tag: "Undocumented", summary: "undocumented", auth: true}
		}
		if !slices.Contains(tags, d.tag) {
			tags = append(tags, d.tag)
		}
		path, params := openAPIPath(r.Path)
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		op := b.operation(d, params)
		// Paths that differ only by / and _ (the seed's audit_summary
		// beside audit/summary) would share an id; ids must be unique.
		id := op["operationId"].(string)
		for n := 2; opIDs[id]; n++ {
			id = op["operationId"].(string) + "_" + strconv.Itoa(n)
		}
		opIDs[id], op["operationId"] = true, id
		paths[path][strings.ToLower(r.Method)] = op
	}
	tagList := make([]any, len(tags))
	for i, t := range tags {
		desc := tagDescriptions()[t]
		if desc == "" {
			desc = "The " + t + " routes."
		}
		tagList[i] = map[string]any{"name": t, "description": desc}
	}
	for _, sf := range apiSurfaces() {
		b.schemas[sf.schema] = sf.errorSchema(b)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "dialerd API",
			"version": "1",
			"description": "The ICTCore control API of dialerd at the root paths, and the other surfaces each with its own paths and error shape. " +
				`ICTCore errors are {"error": {"code", "message", "fields"}}: 400 (unreadable body), 401, 403, 404, 409, 412 (validation; fields names each bad field), 413, 423 (not ready), 429, 500 and 503 (with request_id). ` +
				"Every operation lists the 4xx answers it gives in its surface's shape.",
		},
		"servers": []any{map[string]any{"url": "/", "description": "the dialerd that serves this document"}},
		"tags":    tagList,
		"paths":   paths,
		"components": map[string]any{
			"schemas": b.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "the token of POST /authenticate; Authentication: Bearer and X-Auth-Token are accepted too"},
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": apiKeyHeader,
					"description": "an API key's secret (POST /api/accounts/{id}/api-keys), accepted wherever a token is"},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// openAPIPath turns gin's /a/:id into OpenAPI's /a/{id} and lists the parameters.
func openAPIPath(ginPath string) (string, []string) {
	segs := strings.Split(ginPath, "/")
	var params []string
	for i, s := range segs {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			params = append(params, s[1:])
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/"), params
}

func (b *schemaBuilder) operation(d routeDoc, params []string) map[string]any {
	success, also := http.StatusOK, []int(nil)
	if a, ok := d.resp.(answer); ok {
		d.resp, also = a.body, a.also
		if a.status != 0 {
			success = a.status
		}
	}
	op := map[string]any{
		"tags":        []string{d.tag},
		"summary":     d.summary,
		"operationId": operationID(d.method, d.path),
	}
	var ps []any
	accounts := strings.HasPrefix(d.path, "/api/accounts")
	for _, p := range params {
		schema := map[string]any{"type": "string"}
		if strings.HasSuffix(p, "_id") && !(accounts && p == "account_id") && !crossbarPath(d.path) {
			schema = map[string]any{"type": "integer", "minimum": 1}
		}
		ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": schema})
	}
	if cb, ok := d.resp.(cbAnswer); ok && reflect.TypeOf(cb.data).Kind() == reflect.Slice {
		ps = append(ps, crossbarListParams()...)
		op["description"] = "The list is the data of the crossbar envelope, with page_size and next_start_key."
	} else if d.resp != nil && reflect.TypeOf(d.resp).Kind() == reflect.Slice && !accounts {
		for _, q := range []struct{ name, what string }{
			{"limit", "page size (default 100, at most 1000)"}, {"offset", "rows to skip (at most 1000000000)"},
			{"page", "page number from 1, with per_page; it may start at most 1000000000 rows in"},
			{"per_page", "page size with page (at most 1000)"},
		} {
			ps = append(ps, map[string]any{"name": q.name, "in": "query", "description": q.what,
				"schema": map[string]any{"type": "integer", "minimum": 0}})
		}
		op["description"] = "Any field of the listed object is an equality filter in the query string, e.g. ?name=x."
	}
	if ps != nil {
		op["parameters"] = ps
	}
	sf := surfaceOf(d.path)
	if d.req != nil {
		content := b.content(d.req)
		// A create (POST; on the crossbar PUT) needs the fields its
		// validation calls required; an update changes only what it sends.
		// A crossbar body requires them inside its data.
		create := d.method == http.MethodPost
		if crossbarPath(d.path) {
			create = d.method == http.MethodPut
		}
		if create {
			body, inData := d.req, false
			if data, ok := cbBodyData(d.req); ok {
				body, inData = data, true
			}
			if req := b.createRequired(body); len(req) > 0 {
				needs := map[string]any{"required": req}
				if inData {
					data := b.content(body)["application/json"].(map[string]any)["schema"]
					needs = map[string]any{"required": []string{"data"}, "properties": map[string]any{
						"data": map[string]any{"allOf": []any{data, needs}}}}
				}
				for _, mt := range content {
					m := mt.(map[string]any)
					m["schema"] = map[string]any{"allOf": []any{m["schema"], needs}}
				}
			}
		}
		op["requestBody"] = map[string]any{"required": true, "content": content}
	}
	ok := map[string]any{"description": "OK"}
	_, notAllowed := d.resp.(methodNotAllowed)
	if d.resp != nil && !notAllowed {
		ok["content"] = b.content(d.resp)
	}
	responses := map[string]any{strconv.Itoa(success): ok}
	for _, code := range also {
		responses[strconv.Itoa(code)] = ok
	}
	for _, code := range errorStatuses(d, params) {
		responses[strconv.Itoa(code)] = sf.response(code)
	}
	responses["default"] = sf.response(0)
	if notAllowed {
		responses = map[string]any{"405": sf.response(http.StatusMethodNotAllowed)}
	}
	op["responses"] = responses
	if d.auth {
		op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}}
	} else {
		op["security"] = []any{}
	}
	return op
}

// operationID makes a stable id such as get_programs_program_id.
func operationID(method, path string) string {
	id := strings.ToLower(method) + strings.NewReplacer("/", "_", ":", "", "*", "", ".", "_").Replace(path)
	return strings.TrimRight(id, "_")
}

func (b *schemaBuilder) content(body any) map[string]any {
	if p, ok := body.(interface{ content() map[string]any }); ok {
		return p.content() // a body that documents its own media type
	}
	switch v := body.(type) {
	case csvText:
		return map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
	case download:
		c := map[string]any{}
		for _, mt := range v {
			schema := map[string]any{"type": "string", "format": "binary"}
			if strings.HasPrefix(mt, "text/") {
				schema = map[string]any{"type": "string"}
			}
			c[mt] = map[string]any{"schema": schema}
		}
		return c
	case mediaFile:
		binary := map[string]any{"type": "string", "format": "binary"}
		return map[string]any{
			"application/octet-stream": map[string]any{"schema": binary},
			"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object",
				"properties": map[string]any{"file": binary}}},
		}
	case jsonSchema:
		return map[string]any{"application/json": map[string]any{"schema": map[string]any(v)}}
	case jsonOrCSV:
		c := b.content(v.body)
		c["text/csv"] = map[string]any{"schema": map[string]any{"type": "string"}}
		return c
	case cbAnswer:
		// The crossbar envelope, its data the route's document or list.
		c := b.content(v.data)
		data := c["application/json"].(map[string]any)["schema"]
		c["application/json"] = map[string]any{"schema": map[string]any{"allOf": []any{
			b.schemaOf(reflect.TypeFor[crossbarEnvelope]()),
			map[string]any{"properties": map[string]any{"data": data}},
		}}}
		return c
	}
	return map[string]any{"application/json": map[string]any{"schema": b.schemaOf(reflect.TypeOf(body))}}
}

// schemaBuilder derives JSON Schemas from Go types, the way encoding/json
// reads and writes them. Named structs become components, referenced by $ref.
//
// Which fields are required follows from the types, so routes added later
// get it without a line here: a struct that is answered (never decoded
// from a request) has every field encoding/json always writes, all but the
// omitempty ones; a request body has the fields its validation requires,
// marked on the field with required:"create" (sent on POST; updates send
// what they change) or required:"always". TestOpenAPIRequiredMatchesValidation
// posts {} to every create and fails when the tags and the 412 disagree.
//
// Field tags add what reflection cannot see: enum:"1,2,4,8", example:"09:00",
// format:"email", minimum:"1", maximum:"6000", and schema:"NAME" for a body
// read by its own parser (see namedSchema); doc:"…" is the description.
type schemaBuilder struct {
	schemas map[string]any
	names   map[reflect.Type]string
	// requests are the struct types request bodies are decoded into.
	requests map[reflect.Type]bool
}

func newSchemaBuilder(docs []routeDoc) *schemaBuilder {
	b := &schemaBuilder{schemas: map[string]any{}, names: map[reflect.Type]string{}, requests: map[reflect.Type]bool{}}
	var mark func(t reflect.Type)
	mark = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || b.requests[t] || t == reflect.TypeFor[time.Time]() {
			return
		}
		b.requests[t] = true
		for i := range t.NumField() {
			mark(t.Field(i).Type)
		}
	}
	for _, d := range docs {
		if d.req != nil {
			mark(reflect.TypeOf(d.req))
		}
	}
	return b
}

// createRequired lists the fields of a request body tagged required:"create".
func (b *schemaBuilder) createRequired(req any) []string {
	t := reflect.TypeOf(req)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if f.Tag.Get("required") == "create" && name != "" && name != "-" {
				out = append(out, name)
			}
		}
	}
	walk(t)
	slices.Sort(out)
	return out
}

// enumTypes are the named string types whose values are a closed set.
func enumTypes() map[reflect.Type][]any {
	return map[reflect.Type][]any{
		reflect.TypeFor[dialer.TransmissionStatus](): {dialer.TransmissionPending, dialer.TransmissionProcessing,
			dialer.TransmissionCompleted, dialer.TransmissionFailed, dialer.TransmissionInvalid},
		reflect.TypeFor[dialer.SpoolStatus](): {dialer.SpoolInitiated, dialer.SpoolCompleted, dialer.SpoolFailed},
		reflect.TypeFor[dialer.CampaignStatus](): {dialer.CampaignNew, dialer.CampaignActive, dialer.CampaignStopped,
			dialer.CampaignCompleted},
		reflect.TypeFor[dialer.ProgramType](): {dialer.ProgramSendSMS, dialer.ProgramSendEmail, dialer.ProgramSendFax,
			dialer.ProgramVoiceMessage, dialer.ProgramVoiceTTS, dialer.ProgramReceiveSMS, dialer.ProgramReceiveEmail,
			dialer.ProgramReceiveFax, dialer.ProgramEmailToFax, dialer.ProgramFaxToEmail},
	}
}

// namedSchema is the schema of a value a type's own parser reads (a
// schema:"NAME" field tag), or nil for an unknown name.
func namedSchema(name string) map[string]any {
	switch name {
	case "daytime": // dialer.ParseDayMinute
		return map[string]any{"type": []string{"string", "null"}, "pattern": `^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$`,
			"examples": []any{"09:00"}, "description": "a time of day HH:MM, 00:00 to 24:00, in window_tz"}
	case "weekdays": // dialer.Weekdays.UnmarshalJSON
		return map[string]any{"description": `the days calls may be made: names such as "mon-fri", "sat,sun", "daily", or day numbers (1 Monday, 0 or 7 Sunday)`,
			"examples": []any{"mon-fri"},
			"oneOf": []any{
				map[string]any{"type": "string", "pattern": `^[A-Za-z, *-]{1,64}$`},
				map[string]any{"type": "array", "items": map[string]any{"type": "integer", "minimum": 0, "maximum": 7}},
				map[string]any{"type": "null"},
			}}
	}
	return nil
}

func (b *schemaBuilder) schemaOf(t reflect.Type) map[string]any {
	switch t {
	case reflect.TypeFor[flexString]():
		return map[string]any{"type": "string", "description": "a JSON string or number; answered as a string"}
	case reflect.TypeFor[flexBool]():
		return map[string]any{"type": []string{"boolean", "string", "integer"}, "description": `true or false, also as "true"/"false" or 1/0`}
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{} // any JSON value
	case reflect.TypeFor[dialer.DayMinute]():
		return map[string]any{"type": "string", "pattern": `^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`, "examples": []any{"09:00"},
			"description": "a time of day HH:MM"}
	case reflect.TypeFor[dialer.Weekdays]():
		return map[string]any{"type": "array", "items": map[string]any{"type": "integer", "minimum": 0, "maximum": 6},
			"examples": []any{[]int{1, 2, 3, 4, 5}}, "description": "day numbers, Sunday 0"}
	}
	if values, ok := enumTypes()[t]; ok {
		return map[string]any{"type": "string", "enum": values}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := b.schemaOf(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
			return s
		}
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": b.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.schemaOf(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return b.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + b.component(t)}
	}
	return map[string]any{} // interface: any JSON value
}

// component registers a named struct once and returns its schema name.
func (b *schemaBuilder) component(t reflect.Type) string {
	if name, ok := b.names[t]; ok {
		return name
	}
	name := componentName(t.Name())
	if _, taken := b.schemas[name]; taken {
		name = exportedName(t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]) + name
	}
	b.names[t] = name
	b.schemas[name] = map[string]any{} // placeholder: a type may refer to itself
	b.schemas[name] = b.object(t)
	return name
}

// componentName is a Go type's name as a component: exported, and an
// instance of a generic type (cbBody[…/api.centrexRequest]) named by its
// type arguments' names (CbBodyCentrexRequest), since a component name is
// letters, digits and . _ - only.
func componentName(goName string) string {
	base, args, generic := strings.Cut(goName, "[")
	name := exportedName(base)
	if generic {
		for _, word := range strings.FieldsFunc(args, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_'
		}) {
			word = word[strings.LastIndex(word, ".")+1:]
			name += exportedName(strings.ReplaceAll(word, "_", ""))
		}
	}
	return name
}

func exportedName(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// object describes a struct's JSON object, with embedded structs' fields
// promoted as encoding/json does.
func (b *schemaBuilder) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	b.fields(t, props, &required)
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		o["required"] = required
	}
	return o
}

// An outer field wins over a promoted one of the same name, as in
// encoding/json: a struct's own fields are taken before its embedded ones.
func (b *schemaBuilder) fields(t reflect.Type, props map[string]any, required *[]string) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, shadowed := props[name]; shadowed {
			continue
		}
		var schema map[string]any
		switch {
		case namedSchema(f.Tag.Get("schema")) != nil:
			schema = namedSchema(f.Tag.Get("schema"))
		case slices.Contains(strings.Split(opts, ","), "string"):
			schema = map[string]any{"type": "string"}
		default:
			schema = b.schemaOf(f.Type)
		}
		fieldTags(f.Tag, schema)
		props[name] = schema
		if b.requests[t] {
			if f.Tag.Get("required") == "always" {
				*required = append(*required, name)
			}
		} else if !slices.Contains(strings.Split(opts, ","), "omitempty") && f.Tag.Get("required") != "-" {
			*required = append(*required, name) // encoding/json always writes it
		}
	}
	for _, et := range embedded {
		b.fields(et, props, required)
	}
}

// fieldTags adds a field's doc, enum, example, format, minimum and maximum
// tags to its schema. Values are typed as the schema is (integers for an
// integer field); a nullable field's enum admits null.
func fieldTags(tag reflect.StructTag, schema map[string]any) {
	// OpenAPI 3.1 allows a description beside a $ref.
	if d := tag.Get("doc"); d != "" {
		schema["description"] = d
	}
	typed := func(v string) any {
		if isIntegerSchema(schema) {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
		return v
	}
	if e := tag.Get("enum"); e != "" {
		var values []any
		for _, v := range strings.Split(e, ",") {
			values = append(values, typed(v))
		}
		if types, ok := schema["type"].([]string); ok && slices.Contains(types, "null") {
			values = append(values, nil)
		}
		schema["enum"] = values
	}
	if e := tag.Get("example"); e != "" {
		schema["examples"] = []any{typed(e)}
	}
	if f := tag.Get("format"); f != "" {
		schema["format"] = f
	}
	for _, k := range []string{"minimum", "maximum"} {
		if v := tag.Get(k); v != "" {
			schema[k] = typed(v)
		}
	}
}

func isIntegerSchema(schema map[string]any) bool {
	switch t := schema["type"].(type) {
	case string:
		return t == "integer"
	case []string:
		return slices.Contains(t, "integer")
	}
	return false
}

// openapi serves the description built when the server was.
func (s *Server) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", s.openapiDoc)
}

// describeAPI builds /openapi.json from the routes now served and warns
// about routes without documentation.
func (s *Server) describeAPI() error {
	routes := s.engine.Routes()
	if missing, stale, dup := docDrift(routes, routeDocs()); len(missing)+len(stale)+len(dup) > 0 {
		s.log.Warn("openapi: route documentation drifted", "undocumented", missing, "not served", stale, "duplicate", dup)
	}
	doc, err := buildOpenAPI(routes, routeDocs())
	if err != nil {
		return fmt.Errorf("api: build openapi.json: %w", err)
	}
	s.openapiDoc = doc
	return nil
}
