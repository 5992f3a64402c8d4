package api

import (
	"fmt"
	"strconv"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// pathID reads a positive integer path parameter; a malformed one is a 404,
// since no resource can have that id.
func (s *Server) pathID(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		s.fail(c, dialer.NotFound(name))
		return 0, false
	}
	return id, true
}

// maxListOffset bounds how far into a list a page may start; far beyond any
// real list, and far from overflowing.
const maxListOffset = 1_000_000_000

// isPageParam names the query parameters that are not search filters:
// limit and offset, or page (from 1) and per_page; and the websocket token.
func isPageParam(k string) bool {
	switch k {
	case "limit", "offset", "page", "per_page", "token":
		return true
	}
	return false
}

// listQuery reads the ICTCore search filters and the page from the query string.
func (s *Server) listQuery(c *gin.Context) (dialer.ListQuery, bool) {
	q, err := parseListQuery(c)
	if err != nil {
		s.fail(c, err)
		return q, false
	}
	return q, true
}

// parseListQuery is listQuery without the answer, for surfaces with their
// own error envelope.
func parseListQuery(c *gin.Context) (dialer.ListQuery, error) {
	q := dialer.ListQuery{Filters: map[string]string{}}
	var v dialer.Invalid
	num := func(name string, min int) int {
		raw := c.Query(name)
		if raw == "" {
			return 0
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < min {
			v.Add(name, "must be an integer ≥ "+strconv.Itoa(min))
		}
		return n
	}
	q.Limit = num("limit", 1)
	q.Offset = num("offset", 0)
	if q.Limit > dialer.MaxPageSize {
		v.Add("limit", "at most "+strconv.Itoa(dialer.MaxPageSize))
	}
	if q.Offset > maxListOffset {
		v.Add("offset", "at most "+strconv.Itoa(maxListOffset))
	}
	if page := num("page", 1); page > 0 {
		per := num("per_page", 1)
		if per == 0 {
			per = dialer.DefaultPageSize
		}
		switch {
		case per > dialer.MaxPageSize:
			v.Add("per_page", "at most "+strconv.Itoa(dialer.MaxPageSize))
		case page-1 > maxListOffset/per:
			// Checked before multiplying: a huge page must not wrap round
			// to a small (or negative) offset and answer the first page.
			v.Add("page", fmt.Sprintf("at most %d with per_page %d", maxListOffset/per+1, per))
		default:
			q.Limit, q.Offset = per, (page-1)*per
		}
	}
	for k, vals := range c.Request.URL.Query() {
		if isPageParam(k) {
			continue
		}
		if len(vals) > 1 {
			v.Add(k, "give a search field once")
			continue
		}
		q.Filters[k] = vals[0]
	}
	return q, v.Err()
}
