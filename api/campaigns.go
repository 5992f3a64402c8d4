package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// campaignStore is what the campaign handlers need of the store.
type campaignStore interface {
	CreateCampaign(ctx context.Context, scope dialer.Scope, c dialer.Campaign) (int64, error)
	Campaign(ctx context.Context, tenantID string, id int64) (dialer.Campaign, error)
	Campaigns(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Campaign, error)
	UpdateCampaign(ctx context.Context, scope dialer.Scope, c dialer.Campaign) error
	DeleteCampaign(ctx context.Context, tenantID string, id int64) error
}

func (s *Server) campaignRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermCampaignRead), s.require(dialer.PermCampaignWrite)
	r.POST("/campaigns", write, s.createCampaign)
	r.GET("/campaigns", read, s.listCampaigns)
	r.GET("/campaigns/:campaign_id", read, s.getCampaign)
	r.PUT("/campaigns/:campaign_id", write, s.updateCampaign)
	r.DELETE("/campaigns/:campaign_id", write, s.deleteCampaign)
	r.PUT("/campaigns/:campaign_id/start", write, s.startStopCampaign(true))
	r.PUT("/campaigns/:campaign_id/stop", write, s.startStopCampaign(false))
	r.POST("/campaigns/:campaign_id/start/schedule", write, s.scheduleCampaign(dialer.ScheduleCampaignStart))
	r.POST("/campaigns/:campaign_id/stop/schedule", write, s.scheduleCampaign(dialer.ScheduleCampaignStop))
	r.DELETE("/campaigns/:campaign_id/schedule", write, s.unscheduleCampaign)
}

// campaignRequest is the Campaign object as clients send it; nil fields
// keep their value (their default on create). Status and counters are
// read-only.
type campaignRequest struct {
	ProgramID  *int64 `json:"program_id" required:"create" minimum:"1"`
	GroupID    *int64 `json:"group_id" required:"create" minimum:"1"`
	AccountID  *int64 `json:"account_id"`
	CPM        *int   `json:"cpm" minimum:"1" example:"60" doc:"calls per minute, from 1 to the daemon's engine.max_cpm (60000 unless the operator lowers or raises it)"`
	TryAllowed *int   `json:"try_allowed" minimum:"1" maximum:"20"`
	RetryDelay *int   `json:"retry_delay" minimum:"0" maximum:"604800" doc:"seconds between tries of a contact"`
	// The window fields are read by their own parsers, so a bad value is a
	// validation error (412) naming the field, not unreadable JSON.
	WindowStart json.RawMessage `json:"window_start" schema:"daytime"`
	WindowEnd   json.RawMessage `json:"window_end" schema:"daytime"`
	WindowDays  json.RawMessage `json:"window_days" schema:"weekdays"`
	WindowTZ    *string         `json:"window_tz" example:"Europe/Paris" doc:"the IANA time zone of the window (UTC when empty)"`
	// Compliance: the do-not-call lists the campaign names, and whether
	// its window replaces the tenant's default one.
	DNCLists       *[]int64 `json:"dnc_lists"`
	WindowOverride *bool    `json:"window_override"`
}

// apply sets c's fields from r, collecting parse errors in v.
func (r *campaignRequest) apply(c *dialer.Campaign, v *dialer.Invalid) {
	if r.ProgramID != nil {
		c.ProgramID = *r.ProgramID
	}
	if r.GroupID != nil {
		c.GroupID = *r.GroupID
	}
	if r.AccountID != nil {
		c.AccountID = *r.AccountID
	}
	if r.CPM != nil {
		c.CPM = *r.CPM
	}
	if r.TryAllowed != nil {
		c.TryAllowed = *r.TryAllowed
	}
	if r.RetryDelay != nil {
		c.RetryDelay = *r.RetryDelay
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  json.Unmarshaler
	}{
		{"window_start", r.WindowStart, &c.Start},
		{"window_end", r.WindowEnd, &c.End},
		{"window_days", r.WindowDays, &c.Days},
	} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		if err := f.dst.UnmarshalJSON(f.raw); err != nil {
			v.Add(f.name, err.Error())
		}
	}
	if r.WindowTZ != nil {
		c.TZ = strings.TrimSpace(*r.WindowTZ)
	}
	if r.DNCLists != nil {
		c.DNCLists = append([]int64{}, *r.DNCLists...)
	}
	if r.WindowOverride != nil {
		c.WindowOverride = *r.WindowOverride
	}
}

func (s *Server) createCampaign(c *gin.Context) {
	var req campaignRequest
	if !s.bindJSON(c, &req) {
		return
	}
	a := actor(c)
	camp := dialer.NewCampaignDefaults()
	camp.TenantID, camp.CreatedBy, camp.CreatedByCRN, camp.WindowOverrideBy = a.TenantID, a.UserID, a.CRN(), a.UserID
	var v dialer.Invalid
	req.apply(&camp, &v)
	dialer.ValidateCampaign(&camp, s.cfg.MaxCPM, &v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.planRoom(c.Request.Context(), a.TenantID, "campaigns"); err != nil {
		s.fail(c, err)
		return
	}
	id, err := s.deps.Campaigns.CreateCampaign(c.Request.Context(), a.Scope(), camp)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"campaign_id": id})
}

func (s *Server) listCampaigns(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	list, err := s.deps.Campaigns.Campaigns(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	views := make([]campaignView, len(list))
	for i, camp := range list {
		views[i] = s.campaignView(camp)
	}
	c.JSON(http.StatusOK, views)
}

// campaignView is a campaign as the API answers it: with why it cannot
// dial while it cannot.
type campaignView struct {
	dialer.Campaign
	// Blocked is why the active campaign cannot dial (no provider serves its
	// program, no gateway for a gateway_flag, content a gateway refused…):
	// the reason, the field or config key to fix, whose fault (route or
	// content) and since when; null while it can dial.
	Blocked *dialer.Blocked `json:"blocked" doc:"why the active campaign cannot dial: reason (in words), field (the config key or field to fix), fault (route or content), since; null while it can"`
}

func (s *Server) campaignView(camp dialer.Campaign) campaignView {
	v := campaignView{Campaign: camp}
	if s.deps.Blocked != nil && camp.Status == dialer.CampaignActive {
		v.Blocked = s.deps.Blocked.CampaignBlocked(camp.TenantID, camp.ID)
	}
	return v
}

func (s *Server) visibleCampaign(c *gin.Context) (dialer.Campaign, bool) {
	id, ok := s.pathID(c, "campaign_id")
	if !ok {
		return dialer.Campaign{}, false
	}
	a := actor(c)
	camp, err := s.deps.Campaigns.Campaign(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return camp, false
	}
	if !a.Owns(camp.CreatedBy) {
		s.fail(c, dialer.Forbidden("this campaign belongs to someone else"))
		return camp, false
	}
	return camp, true
}

// getCampaign answers the campaign with its current counters.
func (s *Server) getCampaign(c *gin.Context) {
	if camp, ok := s.visibleCampaign(c); ok {
		c.JSON(http.StatusOK, s.campaignView(camp))
	}
}

// updateCampaign saves the campaign and applies it at once if it runs
// (a new cpm changes the pacing of the next origination).
func (s *Server) updateCampaign(c *gin.Context) {
	camp, ok := s.visibleCampaign(c)
	if !ok {
		return
	}
	var req campaignRequest
	if !s.bindJSON(c, &req) {
		return
	}
	var v dialer.Invalid
	camp.DNCLists = nil // kept unless the request names them
	req.apply(&camp, &v)
	camp.WindowOverrideBy = actor(c).UserID
	dialer.ValidateCampaign(&camp, s.cfg.MaxCPM, &v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.deps.Campaigns.UpdateCampaign(ctx, actor(c).Scope(), camp); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Engine.CampaignChanged(ctx, camp.TenantID, camp.ID); err != nil {
		s.fail(c, err)
		return
	}
	updated, err := s.deps.Campaigns.Campaign(ctx, camp.TenantID, camp.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.campaignView(updated))
}

func (s *Server) deleteCampaign(c *gin.Context) {
	camp, ok := s.visibleCampaign(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if camp.Status == dialer.CampaignActive {
		s.fail(c, dialer.Conflict("stop the campaign before deleting it"))
		return
	}
	if err := s.deps.Engine.UnscheduleCampaign(ctx, camp.TenantID, camp.ID); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Campaigns.DeleteCampaign(ctx, camp.TenantID, camp.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// startStopCampaign is PUT …/start and …/stop; they answer true, as the
// document says.
func (s *Server) startStopCampaign(start bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		camp, ok := s.visibleCampaign(c)
		if !ok {
			return
		}
		act := s.deps.Engine.StopCampaign
		if start {
			act = s.deps.Engine.StartCampaign
		}
		if err := act(c.Request.Context(), camp.TenantID, camp.ID); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, true)
	}
}

func (s *Server) scheduleCampaign(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		camp, ok := s.visibleCampaign(c)
		if !ok {
			return
		}
		at, ok := s.scheduleTime(c)
		if !ok {
			return
		}
		id, err := s.deps.Engine.ScheduleCampaign(c.Request.Context(), camp.TenantID, actor(c).UserID, camp.ID, action, at)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"schedule_id": id})
	}
}

func (s *Server) unscheduleCampaign(c *gin.Context) {
	camp, ok := s.visibleCampaign(c)
	if !ok {
		return
	}
	if err := s.deps.Engine.UnscheduleCampaign(c.Request.Context(), camp.TenantID, camp.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}
