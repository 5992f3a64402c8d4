package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// The crossbar centrex module (seed 000): centrex services of a tenant and
// their accounts, each number of which routes inbound traffic to the
// centrex's callflow (an inbound program). Envelope, paging and errors
// are crossbar.go's.

// centrexStore is what the centrex handlers need of the store.
type centrexStore interface {
	CreateCentrex(ctx context.Context, c dialer.Centrex) (dialer.Centrex, error)
	Centrex(ctx context.Context, tenantID, id string) (dialer.Centrex, error)
	Centrexes(ctx context.Context, tenantID, startKey string, limit int) ([]dialer.Centrex, error)
	UpdateCentrex(ctx context.Context, c dialer.Centrex, ifRev int64) (dialer.Centrex, error)
	DeleteCentrex(ctx context.Context, tenantID, id string, ifRev int64) (dialer.Centrex, error)
	CreateCentrexAccount(ctx context.Context, a dialer.CentrexAccount) (dialer.CentrexAccount, error)
	CentrexAccount(ctx context.Context, tenantID, centrexID, id string) (dialer.CentrexAccount, error)
	CentrexAccounts(ctx context.Context, tenantID, centrexID, startKey string, limit int) ([]dialer.CentrexAccount, error)
	UpdateCentrexAccount(ctx context.Context, a dialer.CentrexAccount, ifRev int64) (dialer.CentrexAccount, error)
	DeleteCentrexAccount(ctx context.Context, tenantID, centrexID, id string, ifRev int64) (dialer.CentrexAccount, error)
	DeleteCentrexAccounts(ctx context.Context, tenantID, centrexID string) ([]dialer.CentrexAccount, error)
}

// cbReadOnly is the server-computed part of a document.
type cbReadOnly struct {
	Deleted bool `json:"deleted,omitempty"`
}

// centrexDoc is a centrex as answered.
type centrexDoc struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	CallflowID  string      `json:"callflow_id"`
	ReadOnly    *cbReadOnly `json:"_read_only,omitempty"`
}

func showCentrex(c dialer.Centrex) centrexDoc {
	d := centrexDoc{ID: c.ID, Name: c.Name, Description: c.Description, CallflowID: strconv.FormatInt(c.CallflowID, 10)}
	if c.Deleted {
		d.ReadOnly = &cbReadOnly{Deleted: true}
	}
	return d
}

// centrexRequest documents a centrex as sent, inside {"data": …}.
type centrexRequest struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name" required:"create"`
	Description string `json:"description,omitempty"`
	CallflowID  string `json:"callflow_id" required:"create"`
}

// centrexAccountDoc is a centrex account as answered.
type centrexAccountDoc struct {
	ID           string      `json:"id"`
	CentrexID    string      `json:"centrex_id"`
	UserID       string      `json:"user_id"`
	NumberOffnet string      `json:"number_offnet"`
	Name         string      `json:"name"`
	Description  string      `json:"description"`
	ReadOnly     *cbReadOnly `json:"_read_only,omitempty"`
}

func showCentrexAccount(a dialer.CentrexAccount) centrexAccountDoc {
	d := centrexAccountDoc{ID: a.ID, CentrexID: a.CentrexID, UserID: strconv.FormatInt(a.UserID, 10),
		NumberOffnet: a.NumberOffnet, Name: a.Name, Description: a.Description}
	if a.Deleted {
		d.ReadOnly = &cbReadOnly{Deleted: true}
	}
	return d
}

// centrexAccountRow is a row of the accounts list, as the seed shows it:
// keyed by centrex, the number as "number".
type centrexAccountRow struct {
	ID    string              `json:"id"`
	Key   string              `json:"key"`
	Value centrexAccountValue `json:"value"`
}

type centrexAccountValue struct {
	ID        string `json:"id"`
	CentrexID string `json:"centrex_id"`
	UserID    string `json:"user_id"`
	Number    string `json:"number"`
}

func centrexAccountListRow(a dialer.CentrexAccount) centrexAccountRow {
	return centrexAccountRow{ID: a.ID, Key: a.CentrexID, Value: centrexAccountValue{ID: a.ID, CentrexID: a.CentrexID,
		UserID: strconv.FormatInt(a.UserID, 10), Number: a.NumberOffnet}}
}

// centrexAccountRequest documents a centrex account as sent.
type centrexAccountRequest struct {
	ID           string `json:"id,omitempty"`
	CentrexID    string `json:"centrex_id,omitempty"`
	UserID       string `json:"user_id" required:"create"`
	NumberOffnet string `json:"number_offnet" required:"create" example:"+12125551234"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
}

// centrexSpecs are the centrex routes. Reads need account.read; writes
// an admin of the account (its numbers route the tenant's inbound
// traffic) or the platform admin.
func (s *Server) centrexSpecs() []cbSpec {
	read := s.cbRequire("permission "+dialer.PermAccountRead+" required", func(a dialer.Actor) bool {
		return a.Platform || a.Can(dialer.PermAccountRead)
	})
	write := s.cbRequire("only an admin of the account changes its centrex", func(a dialer.Actor) bool {
		return a.Platform || a.Admin
	})
	h := func(guard, fn gin.HandlerFunc) []gin.HandlerFunc { return []gin.HandlerFunc{guard, fn} }
	const (
		cx  = "/centrex"
		one = "/centrex/:centrex_id"
		cas = "/centrex/:centrex_id/centrex_accounts"
		ca  = "/centrex/:centrex_id/centrex_accounts/:centrex_account_id"
	)
	return []cbSpec{
		{"GET", cx, "List centrex services (paged: page_size, start_key, paginate=false)", nil, []centrexDoc{}, h(read, s.listCentrex)},
		{"PUT", cx, "Create a centrex (id optional; callflow_id an inbound program of the account); 201", cbBody[centrexRequest]{}, centrexDoc{}, h(write, s.createCentrex)},
		{"GET", one, "View a centrex", nil, centrexDoc{}, h(read, s.getCentrex)},
		{"POST", one, "Replace a centrex (If-Match: a stale revision is 409)", cbBody[centrexRequest]{}, centrexDoc{}, h(write, s.updateCentrex(false))},
		{"PATCH", one, "Merge into a centrex (null removes a key; If-Match)", cbBody[centrexRequest]{}, centrexDoc{}, h(write, s.updateCentrex(true))},
		{"DELETE", one, "Soft-delete a centrex and its accounts (_read_only.deleted); then 404", nil, centrexDoc{}, h(write, s.deleteCentrex)},
		{"GET", cas, "List a centrex's accounts as {id, key, value} rows (paged)", nil, []centrexAccountRow{}, h(read, s.listCentrexAccounts)},
		{"PUT", cas, "Create a centrex account (centrex_id from the path, user_id a user of the account, number_offnet E.164 and unique in the account); 201", cbBody[centrexAccountRequest]{}, centrexAccountDoc{}, h(write, s.createCentrexAccount)},
		{"DELETE", cas, "Soft-delete every account of a centrex", nil, []centrexAccountDoc{}, h(write, s.deleteCentrexAccounts)},
		{"GET", ca, "View a centrex account", nil, centrexAccountDoc{}, h(read, s.getCentrexAccount)},
		{"POST", ca, "Replace a centrex account (If-Match)", cbBody[centrexAccountRequest]{}, centrexAccountDoc{}, h(write, s.updateCentrexAccount(false))},
		{"PATCH", ca, "Merge into a centrex account (If-Match)", cbBody[centrexAccountRequest]{}, centrexAccountDoc{}, h(write, s.updateCentrexAccount(true))},
		{"DELETE", ca, "Soft-delete a centrex account; then 404", nil, centrexAccountDoc{}, h(write, s.deleteCentrexAccount)},
	}
}

// centrexFrom reads a centrex's fields.
func centrexFrom(f map[string]json.RawMessage, v *dialer.Invalid) dialer.Centrex {
	var c dialer.Centrex
	cbString(f, "id", &c.ID, v)
	cbString(f, "name", &c.Name, v)
	cbString(f, "description", &c.Description, v)
	cbID(f, "callflow_id", &c.CallflowID, v)
	return c
}

func (s *Server) listCentrex(c *gin.Context) {
	p, ok := s.cbPaging(c)
	if !ok {
		return
	}
	rows, err := s.deps.Centrex.Centrexes(c.Request.Context(), cbAccount(c), p.startKey, p.limit)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	cbList(s, c, p, rows, func(x dialer.Centrex) string { return x.ID }, showCentrex)
}

func (s *Server) createCentrex(c *gin.Context) {
	f, ok := s.cbData(c)
	if !ok {
		return
	}
	var v dialer.Invalid
	cx := centrexFrom(f, &v)
	cx.TenantID = cbAccount(c)
	dialer.ValidateCentrex(&cx, &v)
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return
	}
	out, err := s.deps.Centrex.CreateCentrex(c.Request.Context(), cx)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusCreated, showCentrex(out), out.Revision, nil)
}

func (s *Server) getCentrex(c *gin.Context) {
	cx, err := s.deps.Centrex.Centrex(c.Request.Context(), cbAccount(c), c.Param("centrex_id"))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, showCentrex(cx), cx.Revision, nil)
}

// updateCentrex is POST (replace: the body is the whole document) and
// PATCH (merge: the body's keys over the stored ones, null removes).
func (s *Server) updateCentrex(merge bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		rev, ok := ifMatch(c)
		if !ok {
			s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
			return
		}
		f, ok := s.cbData(c)
		if !ok {
			return
		}
		ctx, id := c.Request.Context(), c.Param("centrex_id")
		old, err := s.deps.Centrex.Centrex(ctx, cbAccount(c), id)
		if err != nil {
			s.cbFail(c, err)
			return
		}
		if merge {
			f = cbMerge(cbFields(showCentrex(old)), f)
		}
		var v dialer.Invalid
		cx := centrexFrom(f, &v)
		cx.ID, cx.TenantID = id, cbAccount(c)
		dialer.ValidateCentrex(&cx, &v)
		if err := v.Err(); err != nil {
			s.cbFail(c, err)
			return
		}
		out, err := s.deps.Centrex.UpdateCentrex(ctx, cx, rev)
		if err != nil {
			s.cbFail(c, err)
			return
		}
		s.cbOK(c, http.StatusOK, showCentrex(out), out.Revision, nil)
	}
}

func (s *Server) deleteCentrex(c *gin.Context) {
	rev, ok := ifMatch(c)
	if !ok {
		s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
		return
	}
	out, err := s.deps.Centrex.DeleteCentrex(c.Request.Context(), cbAccount(c), c.Param("centrex_id"), rev)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, showCentrex(out), out.Revision, &cbPage{})
}

// centrexAccountFrom reads a centrex account's fields.
func centrexAccountFrom(f map[string]json.RawMessage, v *dialer.Invalid) dialer.CentrexAccount {
	var a dialer.CentrexAccount
	cbString(f, "id", &a.ID, v)
	cbID(f, "user_id", &a.UserID, v)
	cbString(f, "number_offnet", &a.NumberOffnet, v)
	cbString(f, "name", &a.Name, v)
	cbString(f, "description", &a.Description, v)
	return a
}

func (s *Server) listCentrexAccounts(c *gin.Context) {
	p, ok := s.cbPaging(c)
	if !ok {
		return
	}
	rows, err := s.deps.Centrex.CentrexAccounts(c.Request.Context(), cbAccount(c), c.Param("centrex_id"), p.startKey, p.limit)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	cbList(s, c, p, rows, func(x dialer.CentrexAccount) string { return x.ID }, centrexAccountListRow)
}

func (s *Server) createCentrexAccount(c *gin.Context) {
	f, ok := s.cbData(c)
	if !ok {
		return
	}
	var v dialer.Invalid
	a := centrexAccountFrom(f, &v)
	a.TenantID, a.CentrexID = cbAccount(c), c.Param("centrex_id") // centrex_id is the path's
	dialer.ValidateCentrexAccount(&a, s.cfg.DefaultCountryCode, &v)
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return
	}
	out, err := s.deps.Centrex.CreateCentrexAccount(c.Request.Context(), a)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusCreated, showCentrexAccount(out), out.Revision, nil)
}

func (s *Server) getCentrexAccount(c *gin.Context) {
	a, err := s.deps.Centrex.CentrexAccount(c.Request.Context(), cbAccount(c), c.Param("centrex_id"), c.Param("centrex_account_id"))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, showCentrexAccount(a), a.Revision, nil)
}

func (s *Server) updateCentrexAccount(merge bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		rev, ok := ifMatch(c)
		if !ok {
			s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
			return
		}
		f, ok := s.cbData(c)
		if !ok {
			return
		}
		ctx, cid, id := c.Request.Context(), c.Param("centrex_id"), c.Param("centrex_account_id")
		old, err := s.deps.Centrex.CentrexAccount(ctx, cbAccount(c), cid, id)
		if err != nil {
			s.cbFail(c, err)
			return
		}
		if merge {
			f = cbMerge(cbFields(showCentrexAccount(old)), f)
		}
		var v dialer.Invalid
		a := centrexAccountFrom(f, &v)
		a.ID, a.TenantID, a.CentrexID = id, cbAccount(c), cid
		dialer.ValidateCentrexAccount(&a, s.cfg.DefaultCountryCode, &v)
		if err := v.Err(); err != nil {
			s.cbFail(c, err)
			return
		}
		out, err := s.deps.Centrex.UpdateCentrexAccount(ctx, a, rev)
		if err != nil {
			s.cbFail(c, err)
			return
		}
		s.cbOK(c, http.StatusOK, showCentrexAccount(out), out.Revision, nil)
	}
}

func (s *Server) deleteCentrexAccount(c *gin.Context) {
	rev, ok := ifMatch(c)
	if !ok {
		s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
		return
	}
	out, err := s.deps.Centrex.DeleteCentrexAccount(c.Request.Context(), cbAccount(c), c.Param("centrex_id"), c.Param("centrex_account_id"), rev)
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, showCentrexAccount(out), out.Revision, &cbPage{})
}

// deleteCentrexAccounts deletes every account of a centrex and answers
// them, each marked deleted.
func (s *Server) deleteCentrexAccounts(c *gin.Context) {
	out, err := s.deps.Centrex.DeleteCentrexAccounts(c.Request.Context(), cbAccount(c), c.Param("centrex_id"))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	docs := make([]centrexAccountDoc, 0, len(out))
	for _, a := range out {
		docs = append(docs, showCentrexAccount(a))
	}
	s.cbOK(c, http.StatusOK, docs, 0, &cbPage{size: len(docs)})
}
