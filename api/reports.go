package api

import (
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

func (s *Server) reportRoutes(r *gin.RouterGroup) {
	read := s.require(dialer.PermReportRead)
	r.GET("/transmissions/:transmission_id/status", read, s.transmissionStatus)
	r.GET("/transmissions/:transmission_id/detail", read, s.transmissionDetail)
	r.GET("/transmissions/:transmission_id/result", read, s.transmissionResult)
	r.GET("/spools/:spool_id/status", read, s.spoolStatus)
	r.GET("/spools/:spool_id/result", read, s.spoolResult)
	r.GET("/statistics", read, s.statistics)
}

// transmissionStatus answers {"status": …}: pending, processing,
// completed, failed or invalid.
func (s *Server) transmissionStatus(c *gin.Context) {
	if t, ok := s.visibleTransmission(c); ok {
		c.JSON(http.StatusOK, gin.H{"status": t.Status})
	}
}

// transmissionDetail lists the transmission's attempts (Spool objects).
func (s *Server) transmissionDetail(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	spools, err := s.deps.Transmissions.TransmissionSpools(c.Request.Context(), t.TenantID, t.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, spools)
}

// transmissionResult lists what every attempt produced (Result objects).
func (s *Server) transmissionResult(c *gin.Context) {
	t, ok := s.visibleTransmission(c)
	if !ok {
		return
	}
	results, err := s.deps.Transmissions.TransmissionResults(c.Request.Context(), t.TenantID, t.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, results)
}

// visibleSpool loads the path's spool; its owner is its transmission's.
func (s *Server) visibleSpool(c *gin.Context) (dialer.Spool, bool) {
	id, ok := s.pathID(c, "spool_id")
	if !ok {
		return dialer.Spool{}, false
	}
	a := actor(c)
	sp, owner, err := s.deps.Transmissions.Spool(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return sp, false
	}
	if !a.Owns(owner) {
		s.fail(c, dialer.Forbidden("this spool belongs to someone else"))
		return sp, false
	}
	return sp, true
}

// spoolStatus answers {"status": …}: initiated, completed or failed.
func (s *Server) spoolStatus(c *gin.Context) {
	if sp, ok := s.visibleSpool(c); ok {
		c.JSON(http.StatusOK, gin.H{"status": sp.Status})
	}
}

func (s *Server) spoolResult(c *gin.Context) {
	sp, ok := s.visibleSpool(c)
	if !ok {
		return
	}
	results, err := s.deps.Transmissions.SpoolResults(c.Request.Context(), sp.TenantID, sp.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, results)
}

// statistics is the ICTCore Statistics object over what the caller sees.
func (s *Server) statistics(c *gin.Context) {
	st, err := s.deps.Transmissions.Statistics(c.Request.Context(), actor(c).Scope())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
