package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// The PBX profiles surface (/api/v1.0/customers/{tenantId}/pbxs) follows its
// own document: answers are {"data": ..., "status": "success", "timestamp"},
// errors {"error": N, "message", "status": "error", "timestamp"}, and a
// malformed input is 400, not ICTCore's 412.

// pbxStore is what the PBX handlers need of the store. Reads never return
// secrets; FreeSwitchNode returns one unsealed, for the node registry only.
type pbxStore interface {
	CreatePBX(ctx context.Context, p dialer.PBXProfile) (int64, error)
	PBX(ctx context.Context, scope dialer.Scope, id int64) (dialer.PBXProfile, error)
	PBXs(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.PBXProfile, error)
	UpdatePBX(ctx context.Context, scope dialer.Scope, p dialer.PBXProfile) error
	DeletePBX(ctx context.Context, scope dialer.Scope, id int64) error
	FreeSwitchNode(ctx context.Context, tenantID string, id int64) (dialer.FreeSwitchNode, error)
}

// NodeRegistry runs FreeSWITCH nodes (the esl gateway): an enabled
// FreeSWITCH profile becomes a live node at once, a disabled or deleted one
// drains. NodeHealth feeds /readyz ("esl:<id>").
type NodeRegistry interface {
	ApplyNode(n dialer.FreeSwitchNode) error
	RemoveNode(id string)
	NodeHealth() map[string]error
}

// pbxSecretMask stands for a stored secret in every answer; a client that
// sends it back keeps the secret.
const pbxSecretMask = "********"

// pbxTimeFormat is the document's timestamp: .NET's round-trip format.
const pbxTimeFormat = "2006-01-02T15:04:05.0000000Z"

func (s *Server) pbxRoutes(e *gin.Engine) {
	g := e.Group("/api/v1.0/customers/:tenantId/pbxs", s.pbxReady(), s.pbxAuthenticate(), s.pbxTenant())
	read, write := s.pbxRequire(dialer.PermPBXRead), s.pbxRequire(dialer.PermPBXWrite)
	g.POST("", write, s.createPBX)
	g.GET("", read, s.listPBXs)
	g.GET("/:pbxId", read, s.getPBX)
	g.PUT("/:pbxId", write, s.updatePBX)
	g.PATCH("/:pbxId", write, s.updatePBX)
	g.DELETE("/:pbxId", write, s.deletePBX)
}

// pbxEnvelope is every successful answer of the surface.
type pbxEnvelope struct {
	Data      any    `json:"data"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

// pbxErrorBody is every error answer of the surface.
type pbxErrorBody struct {
	Error     int    `json:"error"`
	Message   string `json:"message"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

func (s *Server) pbxNow() string { return s.cfg.Now().UTC().Format(pbxTimeFormat) }

func (s *Server) pbxOK(c *gin.Context, status int, data any) {
	c.JSON(status, pbxEnvelope{Data: data, Status: "success", Timestamp: s.pbxNow()})
}

// pbxStatus maps domain codes to this surface's statuses; every PBX
// handler answers errors through pbxFail, which uses it.
func pbxStatus(code dialer.Code) int {
	switch code {
	case dialer.CodeInvalid:
		return http.StatusBadRequest
	case dialer.CodeUnauthorized:
		return http.StatusUnauthorized
	case dialer.CodeForbidden:
		return http.StatusForbidden
	case dialer.CodeNotFound:
		return http.StatusNotFound
	case dialer.CodeConflict:
		return http.StatusConflict
	case dialer.CodeNotReady:
		return http.StatusServiceUnavailable
	case dialer.CodeTooMany:
		return http.StatusTooManyRequests
	case dialer.CodeNotImpl:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// pbxFail answers err in the surface's error envelope and stops the chain.
// Validation errors name their fields in the message; internal errors are
// logged and never shown.
func (s *Server) pbxFail(c *gin.Context, err error) {
	var de *dialer.Error
	if !errors.As(err, &de) {
		de = &dialer.Error{Code: dialer.CodeInternal, Message: "internal error", Err: err}
	}
	status := pbxStatus(de.Code)
	msg := de.Message
	switch {
	case status == http.StatusInternalServerError:
		s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c), "err", err)
		msg = "internal error (request " + requestID(c) + ")"
	case len(de.Fields) > 0:
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(de.Fields)) {
			parts = append(parts, fmt.Sprintf("'%s': %s", f, de.Fields[f]))
		}
		msg = "The request is not valid: " + strings.Join(parts, "; ") + "."
	}
	c.AbortWithStatusJSON(status, pbxErrorBody{Error: status, Message: msg, Status: "error", Timestamp: s.pbxNow()})
}

func (s *Server) pbxReady() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.ready.Load() {
			s.pbxFail(c, dialer.NotReady("dialerd is starting or stopping"))
			return
		}
		c.Next()
	}
}

// pbxAuthenticate is authenticate with this surface's error envelope.
func (s *Server) pbxAuthenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		a, ok, err := s.requestActor(c)
		switch {
		case err != nil:
			s.pbxFail(c, err)
		case !ok:
			s.pbxFail(c, dialer.Unauthorized("authentication required"))
		default:
			c.Set(ctxActor, a)
			c.Next()
		}
	}
}

// pbxTenant checks the tenant of the path: malformed is 400 (as the
// document shows), another tenant's is 404, existing or not ("no customer
// with that id" for this caller).
func (s *Server) pbxTenant() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("tenantId")
		if !dialer.ValidTenantID(id) {
			s.pbxFail(c, dialer.InvalidField("tenantId", "The value '"+clip(id, 64)+"' is not valid."))
			return
		}
		// The path names the tenant: who may reach it (the platform
		// admin, a member) acts in it as X-Centrapay-Account would say.
		a, err := s.actIn(c.Request.Context(), actor(c), id)
		if errors.Is(err, dialer.ErrForbidden) {
			s.pbxFail(c, dialer.NotFound("customer"))
			return
		}
		if err != nil {
			s.pbxFail(c, err)
			return
		}
		c.Set(ctxActor, a)
		c.Next()
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (s *Server) pbxRequire(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !actor(c).Can(perm) {
			s.pbxFail(c, dialer.Forbidden("permission "+perm+" required"))
			return
		}
		c.Next()
	}
}

func (s *Server) pbxID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("pbxId"), 10, 64)
	if err != nil || id <= 0 {
		s.pbxFail(c, dialer.NotFound("PBX profile"))
		return 0, false
	}
	return id, true
}

// flexBool accepts true, false, "true" and "false": the document sends
// enableRecordingArchive as a string.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*f = flexBool(v)
		return nil
	case string:
		if p, err := strconv.ParseBool(v); err == nil {
			*f = flexBool(p)
			return nil
		}
	}
	// A type error, which encoding/json completes with the field's name.
	return &json.UnmarshalTypeError{Value: "value " + clip(string(b), 32) + " (true or false expected)", Type: reflect.TypeFor[bool]()}
}

// pbxRequest is a PBX profile as clients send it, for any type; nil fields
// are left as they are (defaults on create). Fields of other types are
// ignored. Secrets are write-only; the mask keeps the stored one.
type pbxRequest struct {
	Type    *string   `json:"_type" required:"create" enum:"KazooPbxConnectionProfile,ThreeCxConnectionProfile,FreeSwitchConnectionProfile"`
	Name    *string   `json:"name" required:"create"`
	Enabled *flexBool `json:"enabled"`

	HostRest      *string `json:"hostRest"`
	HostWebsocket *string `json:"hostWebsocket"`
	AccountID     *string `json:"accountId"`
	APIKey        *string `json:"apiKey"`
	CountryCode   *string `json:"countryCode"`

	LicenseKey                *string   `json:"licenseKey"`
	Username                  *string   `json:"username"`
	Password                  *string   `json:"password"`
	EnableRecordingArchive    *flexBool `json:"enableRecordingArchive"`
	RecordingArchiveFrequency *string   `json:"recordingArchiveFrequency"`

	Host        *string `json:"host"`
	Port        *int    `json:"port"`
	SPS         *int    `json:"sps"`
	MaxSessions *int    `json:"maxSessions"`
}

// apply copies the request onto p. A secret that is absent or the mask is
// left empty in p: the store then keeps the stored one.
func (r *pbxRequest) apply(p *dialer.PBXProfile) {
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	secret := func(dst *string, src *string) {
		*dst = ""
		if src != nil && *src != pbxSecretMask {
			*dst = *src
		}
	}
	num := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	str(&p.Name, r.Name)
	if r.Enabled != nil {
		p.Enabled = bool(*r.Enabled)
	}
	switch p.Type {
	case dialer.PBXKazoo:
		str(&p.HostRest, r.HostRest)
		str(&p.HostWebsocket, r.HostWebsocket)
		str(&p.AccountID, r.AccountID)
		str(&p.CountryCode, r.CountryCode)
		secret(&p.APIKey, r.APIKey)
	case dialer.PBXThreeCX:
		str(&p.Username, r.Username)
		str(&p.RecordingArchiveFrequency, r.RecordingArchiveFrequency)
		if r.EnableRecordingArchive != nil {
			p.EnableRecordingArchive = bool(*r.EnableRecordingArchive)
		}
		secret(&p.LicenseKey, r.LicenseKey)
		secret(&p.Password, r.Password)
	case dialer.PBXFreeSwitch:
		str(&p.Host, r.Host)
		num(&p.Port, r.Port)
		num(&p.SessionsPerSecond, r.SPS)
		num(&p.MaxSessions, r.MaxSessions)
		secret(&p.Password, r.Password)
	}
}

// validate checks p for create (all required secrets present) or update
// (a secret may be absent: the stored one stays).
func (r *pbxRequest) validate(p *dialer.PBXProfile, create bool) error {
	var v dialer.Invalid
	dialer.ValidatePBXProfile(p, create, &v)
	return v.Err()
}

// pbxProfileDoc lists every field a profile may have, for /openapi.json;
// answers carry the fields of their _type only.
type pbxProfileDoc struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	pbxRequest
}

// The answers of the surface, for /openapi.json.
type (
	pbxProfileAnswer struct {
		Data      pbxProfileDoc `json:"data"`
		Status    string        `json:"status"`
		Timestamp string        `json:"timestamp"`
	}
	pbxListAnswer struct {
		Data      []pbxProfileDoc `json:"data"`
		Status    string          `json:"status"`
		Timestamp string          `json:"timestamp"`
	}
	pbxDeletedAnswer struct {
		Data      emptyObject `json:"data"`
		Status    string      `json:"status"`
		Timestamp string      `json:"timestamp"`
	}
)

// pbxOut is a profile as answered, with the fields of its type.
func pbxOut(p dialer.PBXProfile) map[string]any {
	mask := func(has bool) string {
		if has {
			return pbxSecretMask
		}
		return ""
	}
	out := map[string]any{
		"_type": p.Type, "id": strconv.FormatInt(p.ID, 10), "tenantId": p.TenantID, "name": p.Name, "enabled": p.Enabled,
	}
	switch p.Type {
	case dialer.PBXKazoo:
		out["hostRest"], out["hostWebsocket"], out["accountId"] = p.HostRest, p.HostWebsocket, p.AccountID
		out["apiKey"], out["countryCode"] = mask(p.HasAPIKey), p.CountryCode
	case dialer.PBXThreeCX:
		out["licenseKey"], out["username"], out["password"] = mask(p.HasLicenseKey), p.Username, mask(p.HasPassword)
		out["enableRecordingArchive"], out["recordingArchiveFrequency"] = p.EnableRecordingArchive, p.RecordingArchiveFrequency
	case dialer.PBXFreeSwitch:
		out["host"], out["port"], out["password"] = p.Host, p.Port, mask(p.HasPassword)
		out["sps"], out["maxSessions"] = p.SessionsPerSecond, p.MaxSessions
	}
	return out
}

// bindPBX decodes a request body, answering 400 (or 413) itself.
func (s *Server) bindPBX(c *gin.Context, dst *pbxRequest) bool {
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, pbxErrorBody{Error: http.StatusRequestEntityTooLarge,
			Message: "request body too large", Status: "error", Timestamp: s.pbxNow()})
		return false
	}
	if err != nil {
		s.pbxFail(c, dialer.InvalidField("body", "unreadable: "+err.Error()))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.pbxFail(c, dialer.InvalidField("body", "a JSON object is required"))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err = dec.Decode(dst); err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			s.pbxFail(c, dialer.InvalidField(typeErr.Field, "wrong JSON type: "+typeErr.Value))
			return false
		}

		s.pbxFail(c, dialer.InvalidField("body", "malformed JSON: "+err.Error()))
		return false
	}
	return true
}

func (s *Server) createPBX(c *gin.Context) {
	var req pbxRequest
	if !s.bindPBX(c, &req) {
		return
	}
	a := actor(c)
	p := dialer.PBXProfile{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
	if req.Type != nil {
		p.Type = dialer.PBXType(*req.Type)
	}
	switch p.Type {
	case dialer.PBXKazoo:
		p.CountryCode = dialer.DefaultPBXCountryCode
	case dialer.PBXThreeCX:
		p.RecordingArchiveFrequency = dialer.DefaultRecordingArchiveFrq
	case dialer.PBXFreeSwitch:
		p.Port, p.Password = dialer.DefaultFreeSwitchPort, dialer.DefaultFreeSwitchPassword
		p.SessionsPerSecond, p.MaxSessions = dialer.DefaultFreeSwitchSPS, dialer.DefaultFreeSwitchSessions
	}
	defaultPassword := p.Password
	req.apply(&p)
	if p.Type == dialer.PBXFreeSwitch && p.Password == "" && (req.Password == nil || *req.Password == pbxSecretMask) {
		p.Password = defaultPassword
	}
	if err := req.validate(&p, true); err != nil {
		s.pbxFail(c, err)
		return
	}
	ctx := c.Request.Context()
	id, err := s.deps.PBX.CreatePBX(ctx, p)
	if err != nil {
		s.pbxFail(c, err)
		return
	}
	s.syncNode(ctx, a.TenantID, id)
	saved, err := s.deps.PBX.PBX(ctx, a.Scope(), id)
	if err != nil {
		s.pbxFail(c, err)
		return
	}
	c.Header("Location", pbxLocation(c, a.TenantID, id))
	s.pbxOK(c, http.StatusCreated, pbxOut(saved))
}

// pbxLocation is the absolute URL of a profile, as the document shows.
func pbxLocation(c *gin.Context, tenant string, id int64) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + "/api/v1.0/customers/" + tenant + "/pbxs/" + strconv.FormatInt(id, 10)
}

func (s *Server) listPBXs(c *gin.Context) {
	q, ok := s.pbxListQuery(c)
	if !ok {
		return
	}
	list, err := s.deps.PBX.PBXs(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.pbxFail(c, err)
		return
	}
	out := make([]map[string]any, len(list))
	for i, p := range list {
		out[i] = pbxOut(p)
	}
	s.pbxOK(c, http.StatusOK, out)
}

// pbxListQuery is listQuery with this surface's errors.
func (s *Server) pbxListQuery(c *gin.Context) (dialer.ListQuery, bool) {
	q, err := parseListQuery(c)
	if err != nil {
		s.pbxFail(c, err)
		return q, false
	}
	return q, true
}

// loadPBX reads the profile named by the path, in the caller's scope,
// answering in the PBX envelope when it cannot.
func (s *Server) loadPBX(c *gin.Context) (dialer.PBXProfile, bool) {
	id, ok := s.pbxID(c)
	if !ok {
		return dialer.PBXProfile{}, false
	}
	p, err := s.deps.PBX.PBX(c.Request.Context(), actor(c).Scope(), id)
	if err != nil {
		s.pbxFail(c, err)
		return p, false
	}
	return p, true
}

func (s *Server) getPBX(c *gin.Context) {
	if p, ok := s.loadPBX(c); ok {
		s.pbxOK(c, http.StatusOK, pbxOut(p))
	}
}

// updatePBX is PUT and PATCH: both change the fields sent and keep the
// others, and a secret sent as the mask (or not sent) is kept.
func (s *Server) updatePBX(c *gin.Context) {
	p, ok := s.loadPBX(c)
	if !ok {
		return
	}
	a, ctx, id := actor(c), c.Request.Context(), p.ID
	var req pbxRequest
	if !s.bindPBX(c, &req) {
		return
	}
	if req.Type != nil && dialer.PBXType(*req.Type) != p.Type {
		s.pbxFail(c, dialer.InvalidField("_type", "a profile's type cannot change (it is "+string(p.Type)+")"))
		return
	}
	req.apply(&p)
	if err := req.validate(&p, false); err != nil {
		s.pbxFail(c, err)
		return
	}
	if err := s.deps.PBX.UpdatePBX(ctx, a.Scope(), p); err != nil {
		s.pbxFail(c, err)
		return
	}
	s.syncNode(ctx, a.TenantID, id)
	p, err := s.deps.PBX.PBX(ctx, a.Scope(), id)
	if err != nil {
		s.pbxFail(c, err)
		return
	}
	s.pbxOK(c, http.StatusOK, pbxOut(p))
}

func (s *Server) deletePBX(c *gin.Context) {
	p, ok := s.loadPBX(c)
	if !ok {
		return
	}
	a, ctx, id := actor(c), c.Request.Context(), p.ID
	if err := s.deps.PBX.DeletePBX(ctx, a.Scope(), id); err != nil {
		s.pbxFail(c, err)
		return
	}
	if p.Type == dialer.PBXFreeSwitch && s.deps.Nodes != nil {
		s.deps.Nodes.RemoveNode(p.NodeID())
	}
	s.pbxOK(c, http.StatusOK, gin.H{})
}

// syncNode makes the node registry follow a FreeSWITCH profile just
// written: enabled, it runs (started or updated); disabled, it drains. A
// failure here is logged, not answered: the profile is saved, and the next
// start applies it again.
func (s *Server) syncNode(ctx context.Context, tenant string, id int64) {
	if s.deps.Nodes == nil {
		return
	}
	n, err := s.deps.PBX.FreeSwitchNode(ctx, tenant, id)
	if errors.Is(err, dialer.ErrNotFound) {
		return // not a FreeSWITCH profile
	}
	if err != nil {
		s.log.ErrorContext(ctx, "pbx: read the node to apply", "pbx_id", id, "err", err)
		return
	}
	p, err := s.deps.PBX.PBX(ctx, dialer.Scope{TenantID: tenant}, id)
	if err != nil {
		s.log.ErrorContext(ctx, "pbx: read the profile to apply", "pbx_id", id, "err", err)
		return
	}
	if !p.Enabled {
		s.deps.Nodes.RemoveNode(n.ID)
		return
	}
	if err := s.deps.Nodes.ApplyNode(n); err != nil {
		s.log.ErrorContext(ctx, "pbx: start the node", "pbx_id", id, "err", err)
	}
}

// nodeChecks adds one readiness entry per FreeSWITCH node to checks.
func (s *Server) nodeChecks(checks map[string]string) (allReady bool) {
	allReady = true
	if s.deps.Nodes == nil {
		return true
	}
	for id, err := range s.deps.Nodes.NodeHealth() {
		if err != nil {
			checks["esl:"+id] = err.Error()
			allReady = false
			continue
		}
		checks["esl:"+id] = "ok"
	}
	return allReady
}
