package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// complianceStore is what the do-not-call and compliance handlers need of
// the store.
type complianceStore interface {
	DNCLists(ctx context.Context, a dialer.Actor) ([]dialer.DNCList, error)
	DNCList(ctx context.Context, a dialer.Actor, id int64) (dialer.DNCList, error)
	CreateDNCList(ctx context.Context, a dialer.Actor, l dialer.DNCList) (dialer.DNCList, error)
	UpdateDNCList(ctx context.Context, a dialer.Actor, l dialer.DNCList) (dialer.DNCList, error)
	DeleteDNCList(ctx context.Context, a dialer.Actor, id int64) error
	AddDNCNumbers(ctx context.Context, a dialer.Actor, id int64, nums []dialer.DNCNumber) error
	RemoveDNCNumber(ctx context.Context, a dialer.Actor, id int64, number string) error
	EachDNCNumber(ctx context.Context, a dialer.Actor, id int64, offset, limit int, fn func(dialer.DNCNumber) error) error
	ImportDNC(ctx context.Context, a dialer.Actor, id int64, rows dialer.DNCRows) (dialer.ImportResult, error)
	TenantCompliance(ctx context.Context, tenantID string) (dialer.TenantCompliance, error)
	SetTenantCompliance(ctx context.Context, a dialer.Actor, tc dialer.TenantCompliance) error
	CampaignReport(ctx context.Context, tenantID string, campaignID int64, fn func(dialer.ReportRow) error) (dialer.ReportSummary, error)
}

// dncCSVRoute is the list import and export route.
const dncCSVRoute = "/dnc/:dnc_id/csv"

func (s *Server) dncRoutes(r *gin.RouterGroup) {
	// Served always, so the API and its description never depend on the
	// wiring; without the store's compliance side they answer 423.
	r = r.Group("/", func(c *gin.Context) {
		if s.deps.Compliance == nil {
			s.fail(c, dialer.NotReady("compliance (do-not-call lists, reports) is not configured"))
			return
		}
		c.Next()
	})
	read, write := s.require(dialer.PermContactRead), s.requireListAdmin()
	r.GET("/dnc", read, s.listDNC)
	r.POST("/dnc", write, s.createDNC)
	r.GET("/dnc/:dnc_id", read, s.getDNC)
	r.PUT("/dnc/:dnc_id", write, s.updateDNC)
	r.DELETE("/dnc/:dnc_id", write, s.deleteDNC)
	r.GET("/dnc/:dnc_id/numbers", read, s.listDNCNumbers)
	r.POST("/dnc/:dnc_id/numbers", write, s.addDNCNumbers)
	r.DELETE("/dnc/:dnc_id/numbers/:number", write, s.removeDNCNumber)
	r.GET(dncCSVRoute, read, s.exportDNC)
	r.POST(dncCSVRoute, write, raiseBodyLimit(s.cfg.MaxImportBytes), s.importDNC)
	r.GET("/compliance", s.require(dialer.PermCampaignRead), s.getCompliance)
	r.PUT("/compliance", write, s.putCompliance)
	r.GET("/campaigns/:campaign_id/report", s.require(dialer.PermCampaignRead), s.campaignReport)
}

// requireListAdmin: do-not-call lists and compliance settings are the
// tenant's, changed by its admins (and platform lists by the platform
// admin, which the store checks).
func (s *Server) requireListAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if a := actor(c); !a.Admin && !a.Platform {
			s.fail(c, dialer.Forbidden("do-not-call lists and compliance settings are changed by an admin of the tenant"))
			return
		}
		c.Next()
	}
}

// dncRequest is a list as clients send it.
type dncRequest struct {
	Name        *string `json:"name" required:"create" example:"internal"`
	Description *string `json:"description"`
	Default     *bool   `json:"is_default"`
	Platform    bool    `json:"platform"` // on create only: platform-wide (platform admin)
}

func (r dncRequest) apply(l *dialer.DNCList) {
	if r.Name != nil {
		l.Name = strings.TrimSpace(*r.Name)
	}
	if r.Description != nil {
		l.Description = *r.Description
	}
	if r.Default != nil {
		l.Default = *r.Default
	}
}

func (s *Server) listDNC(c *gin.Context) {
	ls, err := s.deps.Compliance.DNCLists(c.Request.Context(), actor(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ls)
}

func (s *Server) createDNC(c *gin.Context) {
	var req dncRequest
	if !s.bindJSON(c, &req) {
		return
	}
	l := dialer.DNCList{Platform: req.Platform}
	req.apply(&l)
	out, err := s.deps.Compliance.CreateDNCList(c.Request.Context(), actor(c), l)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) dncOf(c *gin.Context) (dialer.DNCList, bool) {
	id, ok := s.pathID(c, "dnc_id")
	if !ok {
		return dialer.DNCList{}, false
	}
	l, err := s.deps.Compliance.DNCList(c.Request.Context(), actor(c), id)
	if err != nil {
		s.fail(c, err)
		return l, false
	}
	return l, true
}

func (s *Server) getDNC(c *gin.Context) {
	if l, ok := s.dncOf(c); ok {
		c.JSON(http.StatusOK, l)
	}
}

func (s *Server) updateDNC(c *gin.Context) {
	l, ok := s.dncOf(c)
	if !ok {
		return
	}
	var req dncRequest
	if !s.bindJSON(c, &req) {
		return
	}
	req.apply(&l)
	out, err := s.deps.Compliance.UpdateDNCList(c.Request.Context(), actor(c), l)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) deleteDNC(c *gin.Context) {
	id, ok := s.pathID(c, "dnc_id")
	if !ok {
		return
	}
	if err := s.deps.Compliance.DeleteDNCList(c.Request.Context(), actor(c), id); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (s *Server) listDNCNumbers(c *gin.Context) {
	l, ok := s.dncOf(c)
	if !ok {
		return
	}
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out := []dialer.DNCNumber{}
	err := s.deps.Compliance.EachDNCNumber(c.Request.Context(), actor(c), l.ID, q.Offset, limit, func(n dialer.DNCNumber) error {
		out = append(out, n)
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// dncNumbersRequest adds numbers: national ones are completed with the
// default country code, as contacts' are.
type dncNumbersRequest struct {
	Numbers []struct {
		Number    flexString `json:"number"`
		ExpiresAt flexString `json:"expires_at"`
	} `json:"numbers"`
}

// maxDNCNumbersPerRequest bounds a JSON add; bigger sets go through CSV.
const maxDNCNumbersPerRequest = 10000

func (s *Server) addDNCNumbers(c *gin.Context) {
	l, ok := s.dncOf(c)
	if !ok {
		return
	}
	var req dncNumbersRequest
	if !s.bindJSON(c, &req) {
		return
	}
	var v dialer.Invalid
	if len(req.Numbers) == 0 {
		v.Add("numbers", "at least one number")
	}
	if len(req.Numbers) > maxDNCNumbersPerRequest {
		v.Add("numbers", fmt.Sprintf("at most %d per request; import larger sets as CSV", maxDNCNumbersPerRequest))
	}
	nums := make([]dialer.DNCNumber, 0, len(req.Numbers))
	for i, n := range req.Numbers {
		e164, err := dialer.NormalizePhone(string(n.Number), s.cfg.DefaultCountryCode)
		if err != nil {
			v.Add(fmt.Sprintf("numbers[%d].number", i), phoneReason(err))
			continue
		}
		exp, err := dialer.ParseDNCExpiry(strings.TrimSpace(string(n.ExpiresAt)))
		if err != nil {
			v.Add(fmt.Sprintf("numbers[%d].expires_at", i), err.Error())
			continue
		}
		nums = append(nums, dialer.DNCNumber{Number: e164, ExpiresAt: exp})
	}
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Compliance.AddDNCNumbers(c.Request.Context(), actor(c), l.ID, nums); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"added": len(nums)})
}

func (s *Server) removeDNCNumber(c *gin.Context) {
	id, ok := s.pathID(c, "dnc_id")
	if !ok {
		return
	}
	e164, err := dialer.NormalizePhone(c.Param("number"), s.cfg.DefaultCountryCode)
	if err != nil {
		s.fail(c, dialer.InvalidField("number", phoneReason(err)))
		return
	}
	if err := s.deps.Compliance.RemoveDNCNumber(c.Request.Context(), actor(c), id, e164); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// exportDNC streams a list as CSV (number, expires_at as RFC 3339 or
// empty); like every export, a failure after the first row cuts the
// connection rather than end a truncated file cleanly.
func (s *Server) exportDNC(c *gin.Context) {
	l, ok := s.dncOf(c)
	if !ok {
		return
	}
	rec := make([]string, 2)
	s.streamCSV(c, fmt.Sprintf("dnc-%d.csv", l.ID), dialer.DNCCSVColumns(), func(w *csv.Writer) error {
		return s.deps.Compliance.EachDNCNumber(c.Request.Context(), actor(c), l.ID, 0, 0, func(n dialer.DNCNumber) error {
			rec[0], rec[1] = csvCell(n.Number), ""
			if n.ExpiresAt != 0 {
				rec[1] = time.Unix(n.ExpiresAt, 0).UTC().Format(time.RFC3339)
			}
			return w.Write(rec)
		})
	}, "dnc_id", l.ID)
}

// importDNC reads numbers onto a list from a text/csv body (streamed, in
// batches) or the "file" part of a multipart form. Rejected rows are
// listed; the valid ones are imported.
func (s *Server) importDNC(c *gin.Context) {
	l, ok := s.dncOf(c)
	if !ok {
		return
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(csvTransferTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(csvTransferTimeout))
	body, _, err := s.csvUpload(c)
	if err != nil {
		s.failImport(c, err, dialer.ImportResult{}, false)
		return
	}
	defer body.Close()
	src, err := dialer.NewDNCCSV(body, s.cfg.DefaultCountryCode, csvValue)
	if err != nil {
		s.failImport(c, err, dialer.ImportResult{}, false)
		return
	}
	res, err := s.deps.Compliance.ImportDNC(c.Request.Context(), actor(c), l.ID, src)
	if err != nil {
		s.failImport(c, err, res, false)
		return
	}
	if res.Errors == nil {
		res.Errors = []dialer.ImportError{}
	}
	c.JSON(http.StatusOK, res)
}

// phoneReason is why NormalizePhone refused a number.
func phoneReason(err error) string {
	var de *dialer.Error
	if errors.As(err, &de) {
		if why, ok := de.Fields["phone"]; ok {
			return why
		}
		return de.Message
	}
	return err.Error()
}

// complianceView is a tenant's compliance settings on the wire.
type complianceView struct {
	WindowStart dialer.DayMinute `json:"window_start"`
	WindowEnd   dialer.DayMinute `json:"window_end"`
	WindowDays  dialer.Weekdays  `json:"window_days"`
	RedialLimit int              `json:"redial_limit"`
}

func (s *Server) getCompliance(c *gin.Context) {
	tc, err := s.deps.Compliance.TenantCompliance(c.Request.Context(), actor(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, complianceView{tc.Window.Start, tc.Window.End, tc.Window.Days, tc.RedialLimit})
}

// putCompliance replaces the tenant's settings; omitted fields keep
// theirs. Bad values are a 412 naming the field.
func (s *Server) putCompliance(c *gin.Context) {
	var req campaignRequest // its window fields parse the same way
	var body struct {
		campaignRequest
		RedialLimit *int `json:"redial_limit"`
	}
	if !s.bindJSON(c, &body) {
		return
	}
	req = body.campaignRequest
	ctx := c.Request.Context()
	a := actor(c)
	tc, err := s.deps.Compliance.TenantCompliance(ctx, a.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	camp := dialer.Campaign{Start: tc.Window.Start, End: tc.Window.End, Days: tc.Window.Days}
	var v dialer.Invalid
	req.apply(&camp, &v)
	tc.Window = camp.Window()
	if body.RedialLimit != nil {
		tc.RedialLimit = *body.RedialLimit
	}
	tc.Validate(&v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Compliance.SetTenantCompliance(ctx, a, tc); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, complianceView{tc.Window.Start, tc.Window.End, tc.Window.Days, tc.RedialLimit})
}
