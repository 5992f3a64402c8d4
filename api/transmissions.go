package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// transmissionStore is what the transmission and report handlers need of
// the store.
type transmissionStore interface {
	CreateTransmission(ctx context.Context, scope dialer.Scope, t dialer.Transmission) (int64, error)
	Transmission(ctx context.Context, tenantID string, id int64) (dialer.Transmission, error)
	Transmissions(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Transmission, error)
	DeleteTransmission(ctx context.Context, tenantID string, id int64) error
	CloneTransmission(ctx context.Context, tenantID string, id int64, by dialer.Actor) (int64, error)
	ProgramOwner(ctx context.Context, tenantID string, id int64) (int64, error)
	TransmissionSpools(ctx context.Context, tenantID string, id int64) ([]dialer.Spool, error)
	TransmissionResults(ctx context.Context, tenantID string, id int64) ([]dialer.SpoolResult, error)
	Spool(ctx context.Context, tenantID string, id int64) (dialer.Spool, int64, error)
	SpoolResults(ctx context.Context, tenantID string, id int64) ([]dialer.SpoolResult, error)
	Statistics(ctx context.Context, scope dialer.Scope) (dialer.Statistics, error)
}

// spoolEngine is what the handlers ask of the running spool engine: every
// change that affects what gets dialled goes through it.
type spoolEngine interface {
	Send(ctx context.Context, tenantID string, id int64) (int64, error)
	Retry(ctx context.Context, tenantID string, id int64) (int64, error)
	ScheduleTransmission(ctx context.Context, tenantID string, createdBy, id int64, at time.Time) (int64, error)
	UnscheduleTransmission(ctx context.Context, tenantID string, id int64) error
	StartCampaign(ctx context.Context, tenantID string, id int64) error
	StopCampaign(ctx context.Context, tenantID string, id int64) error
	CampaignChanged(ctx context.Context, tenantID string, id int64) error
	ScheduleCampaign(ctx context.Context, tenantID string, createdBy, id int64, action string, at time.Time) (int64, error)
	UnscheduleCampaign(ctx context.Context, tenantID string, id int64) error
}

// engineRoutes serves the Transmission, Campaign and Reports groups when
// the engine and its stores are wired.
func (s *Server) engineRoutes(r *gin.RouterGroup) {
	// Served always, so the API and its description never depend on the
	// wiring; without the engine they answer 423, "not ready".
	r = r.Group("/", s.requireEngine())
	read, write := s.require(dialer.PermTransmissionRead), s.require(dialer.PermTransmissionWrite)
	r.POST("/transmissions", write, s.createTransmission)
	r.GET("/transmissions", read, s.listTransmissions)
	r.GET("/transmissions/:transmission_id", read, s.getTransmission)
	r.DELETE("/transmissions/:transmission_id", write, s.deleteTransmission)
	r.POST("/transmissions/:transmission_id/send", write, s.sendTransmission(false))
	r.POST("/transmissions/:transmission_id/retry", write, s.sendTransmission(true))
	r.PUT("/transmissions/:transmission_id/schedule", write, s.scheduleTransmission)
	r.DELETE("/transmissions/:transmission_id/schedule", write, s.unscheduleTransmission)
	r.GET("/transmissions/:transmission_id/clone", write, s.cloneTransmission)
	r.PUT("/programs/:program_id/transmissions", write, s.createProgramTransmission)
	r.GET("/programs/:program_id/transmissions", read, s.listProgramTransmissions)
	s.campaignRoutes(r)
	s.reportRoutes(r)
}

// requireEngine answers 423 while the spool engine or its stores are absent.
func (s *Server) requireEngine() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.deps.Transmissions == nil || s.deps.Campaigns == nil || s.deps.Engine == nil {
			s.fail(c, dialer.NotReady("the spool engine is not running"))
			return
		}
		c.Next()
	}
}

// transmissionRequest is the TransmissionPost object; try_allowed is
// dialerd's addition (default 1).
type transmissionRequest struct {
	Title       string `json:"title"`
	Origin      string `json:"origin"`
	ContactID   int64  `json:"contact_id" required:"create" minimum:"1"`
	AccountID   int64  `json:"account_id"`
	ServiceFlag int    `json:"service_flag"`
	ProgramID   int64  `json:"program_id" required:"create" minimum:"1"`
	Direction   string `json:"direction"`
	TryAllowed  int    `json:"try_allowed"`
	// DNCLists names do-not-call lists besides the tenant's defaults.
	DNCLists []int64 `json:"dnc_lists"`
}

func (s *Server) createTransmission(c *gin.Context) {
	var req transmissionRequest
	if !s.bindJSON(c, &req) {
		return
	}
	s.insertTransmission(c, req)
}

func (s *Server) insertTransmission(c *gin.Context, req transmissionRequest) {
	a := actor(c)
	t := dialer.Transmission{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN(), Title: req.Title, Origin: req.Origin,
		ContactID: req.ContactID, AccountID: req.AccountID, ServiceFlag: req.ServiceFlag, ProgramID: req.ProgramID,
		Direction: req.Direction, TryAllowed: req.TryAllowed, DNCLists: req.DNCLists}
	var v dialer.Invalid
	dialer.ValidateTransmission(&t, &v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	id, err := s.deps.Transmissions.CreateTransmission(c.Request.Context(), a.Scope(), t)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"transmission_id": id})
}

func (s *Server) listTransmissions(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	list, err := s.deps.Transmissions.Transmissions(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}

// visibleTransmission loads the path's transmission: another tenant's does
// not exist, another user's is forbidden to a non-admin.
func (s *Server) visibleTransmission(c *gin.Context) (dialer.Transmission, bool) {
	id, ok := s.pathID(c, "transmission_id")
	if !ok {
		return dialer.Transmission{}, false
	}
	a := actor(c)
	t, err := s.deps.Transmissions.Transmission(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return t, false
	}
	if !a.Owns(t.CreatedBy) {
		s.fail(c, dialer.Forbidden("this transmission belongs to someone else"))
		return t, false
	}
	return t, true
}

func (s *Server) getTransmission(c *gin.Context) {
	if t, ok := s.visibleTransmission(c); ok {
		c.JSON(http.StatusOK, t)
	}
}

func (s *Server) deleteTransmission(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	if err := s.deps.Engine.UnscheduleTransmission(c.Request.Context(), t.TenantID, t.ID); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Transmissions.DeleteTransmission(c.Request.Context(), t.TenantID, t.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// sendTransmission is POST …/send and …/retry: it answers once the
// attempt's spool is committed, not when the call ends.
func (s *Server) sendTransmission(retry bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, ok := s.visibleTransmission(c)
		if !ok {
			return
		}
		send := s.deps.Engine.Send
		if retry {
			send = s.deps.Engine.Retry
		}
		spool, err := send(c.Request.Context(), t.TenantID, t.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"spool_id": spool})
	}
}

// flexTime accepts Unix seconds (number or numeric string) or an RFC 3339
// time.
type flexTime struct{ time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		f.Time = time.Unix(n, 0)
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("a time: Unix seconds or RFC 3339 (2025-03-05T09:00:00Z)")
	}
	f.Time = t
	return nil
}

// scheduleTime reads the time of a schedule request: the document gives
// no body, so dialerd takes {"time": …} (or "run_at"), or ?time=, as Unix
// seconds or RFC 3339. It answers 412 when the time is missing or
// malformed.
func (s *Server) scheduleTime(c *gin.Context) (time.Time, bool) {
	raw := c.Query("time")
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.badRequest(c, "unreadable request body")
		return time.Time{}, false
	}
	if raw == "" && len(bytes.TrimSpace(body)) > 0 {
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		var fields map[string]json.RawMessage
		if !s.bindJSON(c, &fields) {
			return time.Time{}, false
		}
		v, ok := fields["time"]
		if !ok {
			v = fields["run_at"]
		}
		raw = string(v)
	} else {
		raw = strconv.Quote(raw)
	}
	var at flexTime
	if raw == `""` || raw == "" || raw == "null" {
		s.fail(c, dialer.InvalidField("time", "required: Unix seconds or RFC 3339"))
		return time.Time{}, false
	}
	if err := at.UnmarshalJSON([]byte(raw)); err != nil {
		s.fail(c, dialer.InvalidField("time", err.Error()))
		return time.Time{}, false
	}
	return at.Time, true
}

func (s *Server) scheduleTransmission(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	at, ok := s.scheduleTime(c)
	if !ok {
		return
	}
	id, err := s.deps.Engine.ScheduleTransmission(c.Request.Context(), t.TenantID, actor(c).UserID, t.ID, at)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"schedule_id": id})
}

func (s *Server) unscheduleTransmission(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	if err := s.deps.Engine.UnscheduleTransmission(c.Request.Context(), t.TenantID, t.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (s *Server) cloneTransmission(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	id, err := s.deps.Transmissions.CloneTransmission(c.Request.Context(), t.TenantID, t.ID, actor(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"transmission_id": id})
}

// visibleProgram checks the path's program as visibleTransmission does.
func (s *Server) visibleProgram(c *gin.Context) (int64, bool) {
	id, ok := s.pathID(c, "program_id")
	if !ok {
		return 0, false
	}
	a := actor(c)
	owner, err := s.deps.Transmissions.ProgramOwner(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return 0, false
	}
	if !a.Owns(owner) {
		s.fail(c, dialer.Forbidden("this program belongs to someone else"))
		return 0, false
	}
	return id, true
}

// createProgramTransmission is PUT /programs/{id}/transmissions: a
// transmission of that program (its program_id in the body is ignored).
func (s *Server) createProgramTransmission(c *gin.Context) {
	pid, ok := s.visibleProgram(c)
	if !ok {
		return
	}
	var req transmissionRequest
	if !s.bindJSON(c, &req) {
		return
	}
	req.ProgramID = pid
	s.insertTransmission(c, req)
}

func (s *Server) listProgramTransmissions(c *gin.Context) {
	pid, ok := s.visibleProgram(c)
	if !ok {
		return
	}
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	q.Filters["program_id"] = strconv.FormatInt(pid, 10)
	list, err := s.deps.Transmissions.Transmissions(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}
