package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// The crossbar surface (seeds 000 centrex and 001 services, Kazoo's
// /v2/accounts/{ACCOUNT_ID}/…) in one place: its credential (X-Auth-Token,
// a dialerd token or an API key secret), the {ACCOUNT_ID} check, request
// bodies wrapped in {"data": …}, the success and error envelopes, the
// revision of a document (ETag; If-Match on a write answers 409 when
// stale), paging (page_size, start_key, next_start_key, paginate=false)
// and 405 invalid_method. Handlers never build an envelope themselves.

// crossbarVersion is the "version" of every authenticated answer.
const crossbarVersion = "4.3-dialerd"

// crossbarTenants is what the account check needs of the store.
type crossbarTenants interface {
	DefaultTenant(ctx context.Context) (dialer.Tenant, error)
	TenantExists(ctx context.Context, id string) (bool, error)
}

const (
	ctxCrossbarToken = "dialerd.crossbar.token"
	ctxCrossbarRev   = "dialerd.crossbar.revision"
)

// crossbarEnvelope is every successful answer.
type crossbarEnvelope struct {
	Data         any    `json:"data"`
	Status       string `json:"status" enum:"success"`
	RequestID    string `json:"request_id"`
	Revision     string `json:"revision,omitempty"`
	AuthToken    string `json:"auth_token"`
	Node         string `json:"node"`
	Timestamp    string `json:"timestamp"`
	Version      string `json:"version,omitempty"`
	PageSize     *int   `json:"page_size,omitempty"`
	StartKey     string `json:"start_key,omitempty"`
	NextStartKey string `json:"next_start_key,omitempty"`
}

// crossbarErrorEnvelope is every error answer: message is the error atom,
// data.message the human text (or, for validation, the failed rules).
type crossbarErrorEnvelope struct {
	Data      any    `json:"data"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	Status    string `json:"status"`
	RequestID string `json:"request_id"`
	AuthToken string `json:"auth_token"`
	Node      string `json:"node"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version,omitempty"`
}

// crossbarNode names this process in answers (Kazoo's node hash).
func crossbarNode() string {
	h := sha256.Sum256([]byte("dialerd"))
	return hex.EncodeToString(h[:8])
}

func (s *Server) crossbarTimestamp() string {
	return s.cfg.Now().UTC().Format("2006-01-02T15:04:05Z")
}

// cbRevision is a document's revision as answered: "<counter>-<hash of
// the data>", so a client's If-Match names both.
func cbRevision(counter int64, data any) string {
	b, _ := json.Marshal(data)
	h := sha256.Sum256(b)
	return strconv.FormatInt(counter, 10) + "-" + hex.EncodeToString(h[:16])
}

// ifMatch is the counter of the request's If-Match revision; 0 when it
// has none (then the write does not check). A malformed one is 409: it
// cannot be the current revision.
func ifMatch(c *gin.Context) (int64, bool) {
	v := strings.Trim(strings.TrimSpace(c.GetHeader("If-Match")), `"`)
	if v == "" || v == "*" {
		return 0, true
	}
	n, _, _ := strings.Cut(strings.TrimPrefix(v, "W/"), "-")
	rev, err := strconv.ParseInt(strings.Trim(n, `"`), 10, 64)
	if err != nil || rev <= 0 {
		return 0, false
	}
	return rev, true
}

// cbPage is one page of a list as answered.
type cbPage struct {
	size         int
	startKey     string
	nextStartKey string
}

// cbOK answers data in the success envelope. rev > 0 is the document's
// revision counter (also the ETag); lists pass page.
func (s *Server) cbOK(c *gin.Context, status int, data any, rev int64, page *cbPage) {
	env := crossbarEnvelope{Data: data, Status: "success", RequestID: requestID(c), AuthToken: c.GetString(ctxCrossbarToken),
		Node: crossbarNode(), Timestamp: s.crossbarTimestamp(), Version: crossbarVersion}
	if rev > 0 {
		env.Revision = cbRevision(rev, data)
		c.Header("ETag", `"`+env.Revision+`"`)
	} else {
		env.Revision = cbRevision(0, data)[2:]
	}
	if page != nil {
		n := page.size
		env.PageSize, env.StartKey, env.NextStartKey = &n, page.startKey, page.nextStartKey
	}
	c.JSON(status, env)
}

// crossbarAtom is the status and atom of a domain code.
func crossbarAtom(code dialer.Code) (int, string) {
	switch code {
	case dialer.CodeInvalid:
		return http.StatusBadRequest, "validation error"
	case dialer.CodeNotFound:
		return http.StatusNotFound, "bad_identifier"
	case dialer.CodeUnauthorized:
		return http.StatusUnauthorized, "invalid_credentials"
	case dialer.CodeForbidden:
		return http.StatusForbidden, "forbidden"
	case dialer.CodeConflict:
		return http.StatusConflict, "datastore_conflict"
	case dialer.CodeTooMany:
		return http.StatusTooManyRequests, "too_many_requests"
	case dialer.CodeNoCredit:
		return http.StatusPaymentRequired, "no_credit"
	case dialer.CodeNotReady:
		return http.StatusServiceUnavailable, "not_ready"
	case dialer.CodeNotImpl:
		return http.StatusNotImplemented, "not_implemented"
	}
	return http.StatusInternalServerError, "unspecified_fault"
}

// cbFail answers err in the error envelope and stops the chain. A
// validation error lists {field: {rule: {message}}}; the domain's reasons
// are "rule: message" (dialer.Rule), others are rule "invalid". A 404
// names the missing id as its cause.
func (s *Server) cbFail(c *gin.Context, err error) {
	var de *dialer.Error
	if !errors.As(err, &de) {
		de = &dialer.Error{Code: dialer.CodeInternal, Message: "internal error", Err: err}
	}
	status, atom := crossbarAtom(de.Code)
	var data any = gin.H{"message": de.Message}
	switch {
	case status == http.StatusInternalServerError:
		s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c), "err", err)
		data = gin.H{"message": "internal error (request " + requestID(c) + ")"}
	case de.Code == dialer.CodeInvalid && len(de.Fields) > 0:
		fields := map[string]any{}
		for f, reason := range de.Fields {
			rule, msg, ok := strings.Cut(reason, ": ")
			if !ok || strings.ContainsAny(rule, " ,") {
				rule, msg = "invalid", reason
			}
			fields[f] = map[string]any{rule: map[string]any{"message": msg}}
		}
		data = fields
	case de.Code == dialer.CodeInvalid:
		atom = "parse_error"
	case de.Code == dialer.CodeNotFound:
		data = gin.H{"message": "bad identifier", "cause": cbCause(c, de.Message)}
	}
	env := crossbarErrorEnvelope{Data: data, Error: strconv.Itoa(status), Message: atom,
		Status: "error", RequestID: requestID(c), AuthToken: c.GetString(ctxCrossbarToken), Node: crossbarNode(),
		Timestamp: s.crossbarTimestamp()}
	if _, authed := c.Get(ctxActor); authed {
		env.Version = crossbarVersion
	}
	c.AbortWithStatusJSON(status, env)
}

// cbCause is the identifier a 404 is about: the last id in the path.
func cbCause(c *gin.Context, fallback string) string {
	for _, p := range slices.Backward(c.Params) {
		if p.Key != "account_id" {
			return p.Value
		}
	}
	if id := c.Param("account_id"); id != "" && strings.Contains(fallback, "account") {
		return id
	}
	return fallback
}

// crossbarToken is the request's credential: X-Auth-Token, or as the
// other surfaces take it a bearer token or an X-Api-Key.
func crossbarToken(r *http.Request) string {
	if v := strings.TrimSpace(r.Header.Get("X-Auth-Token")); v != "" {
		return v
	}
	if v := bearer(r); v != "" {
		return v
	}
	return strings.TrimSpace(r.Header.Get(apiKeyHeader))
}

// crossbarAuth authenticates the request and checks {ACCOUNT_ID}: it must
// be the actor's tenant, unless the actor is the platform admin, who may
// act in any existing tenant. Another tenant's account is 403 forbidden
// whether it exists or not (so a token cannot probe for tenant ids); an
// id that does not exist inside the caller's account is 404
// bad_identifier.
func (s *Server) crossbarAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.ready.Load() {
			s.cbFail(c, dialer.NotReady("dialerd is starting or stopping"))
			return
		}
		raw := crossbarToken(c.Request)
		if raw == "" {
			s.cbFail(c, dialer.Unauthorized("authentication required: send X-Auth-Token"))
			return
		}
		a, err := s.actorForSecret(c.Request.Context(), raw)
		if err != nil {
			s.cbFail(c, err)
			return
		}
		c.Set(ctxCrossbarToken, raw)
		account := c.Param("account_id")
		if account != a.TenantID && a.Platform {
			ok, err := s.deps.Crossbar.TenantExists(c.Request.Context(), account)
			if err != nil {
				s.cbFail(c, err)
				return
			}
			if !ok {
				s.cbFail(c, dialer.NotFound("account "+account))
				return
			}
		}
		// The same rule as every surface: the platform admin anywhere, a
		// member in each of its accounts, a key in its own only.
		acted, err := s.actIn(c.Request.Context(), a, account)
		if err != nil {
			s.cbFail(c, dialer.Forbidden("this token does not belong to account "+clip(account, 64)))
			return
		}
		c.Set(ctxActor, acted)
		c.Next()
	}
}

// cbAccount is the tenant the request acts in ({ACCOUNT_ID}, checked).
func cbAccount(c *gin.Context) string { return c.Param("account_id") }

// cbRequire lets the request through when allowed(actor) holds; else 403.
func (s *Server) cbRequire(why string, allowed func(dialer.Actor) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !allowed(actor(c)) {
			s.cbFail(c, dialer.Forbidden(why))
			return
		}
		c.Next()
	}
}

// cbData reads a request body {"data": {…}} into a map of its fields. A
// body that is not wrapped in "data" is taken as the object itself (some
// clients send it bare). An empty body is an empty object.
func (s *Server) cbData(c *gin.Context) (map[string]json.RawMessage, bool) {
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.cbFail(c, dialer.InvalidField("data", "request body too large"))
		return nil, false
	}
	if err != nil {
		s.cbFail(c, &dialer.Error{Code: dialer.CodeInvalid, Message: "unreadable request body"})
		return nil, false
	}
	if strings.TrimSpace(string(body)) == "" {
		return map[string]json.RawMessage{}, true
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil || outer == nil {
		s.cbFail(c, &dialer.Error{Code: dialer.CodeInvalid, Message: "the request body is not a JSON object"})
		return nil, false
	}
	raw, wrapped := outer["data"]
	if !wrapped {
		return outer, true
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil {
		s.cbFail(c, dialer.InvalidField("data", dialer.Rule(dialer.RuleType, "data must be an object")))
		return nil, false
	}
	if inner == nil {
		inner = map[string]json.RawMessage{}
	}
	// accept_charges sits beside data in some clients.
	if ac, ok := outer["accept_charges"]; ok {
		inner["accept_charges"] = ac
	}
	return inner, true
}

// cbMerge applies a PATCH to a document's fields: a null removes a key.
func cbMerge(doc, patch map[string]json.RawMessage) map[string]json.RawMessage {
	out := maps.Clone(doc)
	for k, v := range patch {
		if string(v) == "null" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// cbFields turns a document into its fields, for a PATCH to merge into.
func cbFields(doc any) map[string]json.RawMessage {
	b, _ := json.Marshal(doc)
	var out map[string]json.RawMessage
	_ = json.Unmarshal(b, &out)
	return out
}

// cbString reads a string field into dst; absent leaves "". A wrong type
// is a validation error of rule "type".
func cbString(f map[string]json.RawMessage, key string, dst *string, v *dialer.Invalid) {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		v.Add(key, dialer.Rule(dialer.RuleType, "must be a string"))
	}
}

// cbID reads an id field given as a string or a number (dialerd's ids are
// numbers; crossbar's are strings).
func cbID(f map[string]json.RawMessage, key string, dst *int64, v *dialer.Invalid) {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return
	}
	var sv string
	if json.Unmarshal(raw, &sv) != nil {
		sv = string(raw)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(sv), 10, 64)
	if err != nil || n <= 0 {
		v.Add(key, dialer.Rule(dialer.RuleType, "must be the id of an existing record"))
		return
	}
	*dst = n
}

// cbPaging reads page_size, start_key and paginate=false. limit is what to
// ask the store for (one more than the page, to see whether another
// follows); 0 means everything.
type cbPaging struct {
	limit    int
	startKey string // decoded
	rawKey   string
}

const (
	crossbarDefaultPage = 50
	crossbarMaxPage     = 1000
)

func (s *Server) cbPaging(c *gin.Context) (cbPaging, bool) {
	var p cbPaging
	var v dialer.Invalid
	if raw := c.Query("start_key"); raw != "" {
		k, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil {
			v.Add("start_key", dialer.Rule(dialer.RulePattern, "not a key this server gave"))
		}
		p.startKey, p.rawKey = string(k), raw
	}
	size := crossbarDefaultPage
	if raw := c.Query("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > crossbarMaxPage {
			v.Add("page_size", dialer.Rule(dialer.RuleMinimum, "an integer from 1 to "+strconv.Itoa(crossbarMaxPage)))
		}
		size = n
	}
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return p, false
	}
	if c.Query("paginate") != "false" {
		p.limit = size + 1
	}
	return p, true
}

// cbList answers a page of rows (asked with p.limit): the extra row, when
// there is one, becomes next_start_key. key gives a row's id.
func cbList[T any, R any](s *Server, c *gin.Context, p cbPaging, rows []T, key func(T) string, show func(T) R) {
	page := &cbPage{startKey: p.rawKey}
	if p.limit > 0 && len(rows) >= p.limit {
		page.nextStartKey = base64.RawURLEncoding.EncodeToString([]byte(key(rows[p.limit-1])))
		rows = rows[:p.limit-1]
	}
	out := make([]R, 0, len(rows))
	for _, r := range rows {
		out = append(out, show(r))
	}
	page.size = len(out)
	s.cbOK(c, http.StatusOK, out, 0, page)
}

// cbSpec is one crossbar route: its method and path under
// /v2/accounts/:account_id, its documentation and its handlers.
type cbSpec struct {
	method, path, summary string
	req, resp             any
	h                     []gin.HandlerFunc
}

// crossbarPrefix is the crossbar surface's base path.
const crossbarPrefix = "/v2/accounts/:account_id"

// crossbarMethods are the methods crossbar documents use; a path answers
// the others it does not serve with 405 invalid_method.
func crossbarMethods() []string {
	return []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete}
}

// crossbarSpecs is every crossbar route. It is called with a nil server to
// document them: handlers are only referred to, never called.
func (s *Server) crossbarSpecs() []cbSpec {
	var specs []cbSpec
	if s == nil || s.deps.Centrex != nil {
		specs = append(specs, s.centrexSpecs()...)
	}
	if s == nil || s.deps.Services != nil {
		specs = append(specs, s.servicesSpecs()...)
	}
	return specs
}

// cbPaths groups specs by path, in order, with the methods each serves.
func cbPaths(specs []cbSpec) (paths []string, served map[string][]string) {
	served = map[string][]string{}
	for _, sp := range specs {
		if _, ok := served[sp.path]; !ok {
			paths = append(paths, sp.path)
		}
		served[sp.path] = append(served[sp.path], sp.method)
	}
	return paths, served
}

// cbMethodNotAllowed answers a method a path does not serve.
func (s *Server) cbMethodNotAllowed(allowed []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Allow", strings.Join(allowed, ", "))
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, crossbarErrorEnvelope{
			Data:  gin.H{"message": "method " + c.Request.Method + " not allowed; use " + strings.Join(allowed, ", ")},
			Error: "405", Message: "invalid_method", Status: "error", RequestID: requestID(c),
			AuthToken: c.GetString(ctxCrossbarToken), Node: crossbarNode(), Timestamp: s.crossbarTimestamp(), Version: crossbarVersion})
	}
}

// crossbarRoutes serves /v2/accounts/{ACCOUNT_ID}/centrex… and /services….
func (s *Server) crossbarRoutes(e *gin.Engine) {
	if s.deps.Crossbar == nil {
		return
	}
	g := e.Group(crossbarPrefix, s.crossbarAuth())
	specs := s.crossbarSpecs()
	for _, sp := range specs {
		g.Handle(sp.method, sp.path, sp.h...)
	}
	paths, served := cbPaths(specs)
	for _, p := range paths {
		allowed := slices.Sorted(slices.Values(served[p]))
		for _, m := range crossbarMethods() {
			if !slices.Contains(allowed, m) {
				g.Handle(m, p, s.cbMethodNotAllowed(allowed))
			}
		}
	}
}

// crossbarDocs documents the crossbar routes for /openapi.json, the 405
// answers included.
func crossbarDocs() []routeDoc {
	var s *Server
	specs := s.crossbarSpecs()
	var docs []routeDoc
	for _, sp := range specs {
		// Answers are the envelope around the document; a PUT creates (201).
		var resp any = cbAnswer{data: sp.resp}
		if sp.method == http.MethodPut {
			resp = answer{status: http.StatusCreated, body: resp}
		}
		docs = append(docs, routeDoc{method: sp.method, path: crossbarPrefix + sp.path, tag: "Crossbar (X-Auth-Token)",
			summary: sp.summary, auth: needsToken, req: sp.req, resp: resp})
	}
	paths, served := cbPaths(specs)
	for _, p := range paths {
		for _, m := range crossbarMethods() {
			if !slices.Contains(served[p], m) {
				docs = append(docs, routeDoc{method: m, path: crossbarPrefix + p, tag: "Crossbar (X-Auth-Token)",
					summary: "Not a method of this path: 405 invalid_method", auth: needsToken, resp: methodNotAllowed{}})
			}
		}
	}
	return docs
}

// cbBody documents a request body: the object inside {"data": …}.
type cbBody[T any] struct {
	Data T `json:"data"`
}

// cbBodyData is the zero document inside a cbBody, for its create's
// required fields.
func cbBodyData(req any) (any, bool) {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Struct || v.NumField() != 1 || v.Type().Field(0).Tag.Get("json") != "data" {
		return nil, false
	}
	return v.Field(0).Interface(), true
}

// cbAnswer documents a crossbar answer: data in the success envelope (and
// text/csv beside it when data is a jsonOrCSV).
type cbAnswer struct{ data any }

// methodNotAllowed as a route's response documents a 405.
type methodNotAllowed struct{}

// crossbarPath reports whether a documented path is the crossbar's.
func crossbarPath(p string) bool { return strings.HasPrefix(p, "/v2/") }

// crossbarListParams document a crossbar list's paging.
func crossbarListParams() []any {
	return []any{
		map[string]any{"name": "page_size", "in": "query", "description": "rows per page (default 50, at most 1000)",
			"schema": map[string]any{"type": "integer", "minimum": 1}},
		map[string]any{"name": "start_key", "in": "query", "description": "the next_start_key of the previous page",
			"schema": map[string]any{"type": "string"}},
		map[string]any{"name": "paginate", "in": "query", "description": "false: every row at once",
			"schema": map[string]any{"type": "boolean"}},
	}
}
