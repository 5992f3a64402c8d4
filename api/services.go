package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// The crossbar services module (seed 001): a tenant's quantities counted
// from its live records (manual ones win), the audit log of every change
// with per-day summaries, the plans of configs/plans.yaml and their
// invoices, and a prepaid ledger. Plans, manual quantities, overrides,
// reconciliation and synchronization are the platform admin's (the
// reseller's); the tenant's admins read and top up.

// servicesStore is what the services handlers need of the store.
type servicesStore interface {
	LiveQuantities(ctx context.Context, tenantID string) (dialer.Quantities, error)
	CommittedQuantities(ctx context.Context, tenantID string) (dialer.Quantities, error)
	SyncQuantities(ctx context.Context, tenantID, typ string, who dialer.AuditWho, req dialer.AuditRequest) ([]dialer.AuditEntry, error)
	Services(ctx context.Context, tenantID string) (dialer.ServiceDoc, int64, error)
	UpdateServices(ctx context.Context, tenantID string, ifRev int64, fn func(*dialer.ServiceDoc) ([]dialer.AuditEntry, error)) (dialer.ServiceDoc, int64, error)
	RecordAudit(ctx context.Context, entries []dialer.AuditEntry) ([]dialer.AuditEntry, error)
	AuditEntries(ctx context.Context, tenantID string, q dialer.AuditQuery) ([]dialer.AuditEntry, error)
	AuditEntry(ctx context.Context, tenantID, id string) (dialer.AuditEntry, error)
	Ledger(ctx context.Context, tenantID string) (dialer.Ledger, error)
	Topup(ctx context.Context, tenantID string, micros int64, who dialer.AuditWho, req dialer.AuditRequest) (dialer.Ledger, dialer.AuditEntry, error)
	RecordCount(ctx context.Context, tenantID, what string) (int64, error)
}

// planRoom refuses one more of what ("contacts", "campaigns") when the
// tenant's plan allows no more. It is checked before the insert, not in
// its transaction: two creates at once may both pass the last free place.
func (s *Server) planRoom(ctx context.Context, tenantID, what string) error {
	most, err := s.planLimit(ctx, tenantID, what)
	if err != nil || most <= 0 {
		return err
	}
	n, err := s.deps.Services.RecordCount(ctx, tenantID, what)
	if err != nil {
		return err
	}
	if n >= int64(most) {
		return dialer.Forbidden(fmt.Sprintf("the account's plan allows %d %s; delete some or change the plan", most, what))
	}
	return nil
}

// planLimit is the tenant's effective limit of what ("contacts",
// "campaigns"); 0 is none.
func (s *Server) planLimit(ctx context.Context, tenantID, what string) (int, error) {
	if s.deps.Services == nil {
		return 0, nil
	}
	doc, _, err := s.deps.Services.Services(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	limits := dialer.EffectiveLimits(s.plans().EffectivePlans(doc), doc.Overrides)
	return map[string]int{"contacts": limits.Contacts, "campaigns": limits.Campaigns}[what], nil
}

// creditWatcher is told when a tenant's credit or plans change, so the
// engine reads its limits again (a topup unblocks at once).
type creditWatcher interface {
	ServicesChanged(tenantID string)
}

func (s *Server) plans() dialer.PlanCatalog {
	if len(s.deps.Plans.Plans) == 0 {
		return dialer.DefaultPlans()
	}
	return s.deps.Plans
}

func (s *Server) servicesChanged(tenantID string) {
	if s.deps.Credit != nil {
		s.deps.Credit.ServicesChanged(tenantID)
	}
}

func auditWho(c *gin.Context) dialer.AuditWho {
	a := actor(c)
	return dialer.AuditWho{UserID: a.UserID, Username: a.Username, TenantID: a.TenantID, Via: a.Via, Agent: clip(c.GetHeader("User-Agent"), 128)}
}

func auditRequest(c *gin.Context) dialer.AuditRequest {
	return dialer.AuditRequest{ID: requestID(c), Method: c.Request.Method, Path: c.Request.URL.Path, ClientIP: c.ClientIP()}
}

// servicesSpecs are the services routes.
func (s *Server) servicesSpecs() []cbSpec {
	admin := s.cbRequire("only an admin of the account reads its services", func(a dialer.Actor) bool { return a.Platform || a.Admin })
	platform := s.cbRequire("only the platform admin (the reseller) changes plans, quantities, overrides, reconciliation and synchronization",
		func(a dialer.Actor) bool { return a.Platform })
	sync := s.syncQuantities()
	read := func(h gin.HandlerFunc) []gin.HandlerFunc { return []gin.HandlerFunc{admin, sync, h} }
	write := func(h gin.HandlerFunc) []gin.HandlerFunc { return []gin.HandlerFunc{platform, h} }
	const sv = "/services"
	return []cbSpec{
		{"GET", sv, "The account's plans, keyed by plan id (the default plan when none is assigned)", nil, map[string]dialer.PlanAssignment{}, read(s.getServices)},
		{"POST", sv, "Change plans in bulk ({\"add\": [ids], \"delete\": [ids]}) or set the billing id ({\"billing_id\"}); platform admin", cbBody[servicesPost]{}, map[string]dialer.PlanAssignment{}, write(s.postServices)},
		{"GET", sv + "/status", "Whether the account is in good standing, and why not", nil, servicesStatus{}, read(s.getServicesStatus)},
		{"GET", sv + "/audit", "The audit log (created_from/created_to in Gregorian seconds, default the last 31 days; paged)", nil, []auditRow{}, read(s.listAudit)},
		{"GET", sv + "/audit/:audit_id", "One audit entry: who, the request, what changed", nil, auditDoc{}, read(s.getAudit)},
		{"GET", sv + "/audit/summary", "Per source and UTC day: additions, removals, quantity, last timestamp (created_from/created_to)", nil, []map[string]map[string]daySummary{}, read(s.auditSummary)},
		{"GET", sv + "/audit/summary/:source", "One source's days, newest first", nil, []map[string]daySummary{}, read(s.auditSummary)},
		{"GET", sv + "/audit_summary", "The seed's spelling of /services/audit/summary", nil, []map[string]map[string]daySummary{}, read(s.auditSummary)},
		{"GET", sv + "/audit_summary/:source", "The seed's spelling of /services/audit/summary/{source}", nil, []map[string]daySummary{}, read(s.auditSummary)},
		{"POST", sv + "/:plan_id", "Assign a plan of the catalogue (404 for an unknown plan); platform admin", nil, map[string]dialer.PlanAssignment{}, write(s.assignPlan)},
		{"DELETE", sv + "/:plan_id", "Unassign a plan; platform admin", nil, map[string]dialer.PlanAssignment{}, write(s.unassignPlan)},
		{"GET", sv + "/manual", "Manual quantities {category: {item: n}}; they win over counted ones", nil, dialer.Quantities{}, read(s.getManual)},
		{"POST", sv + "/manual", "Replace the manual quantities; platform admin", cbBody[dialer.Quantities]{}, dialer.Quantities{}, write(s.setManual(false))},
		{"PATCH", sv + "/manual", "Merge manual quantities (null removes); platform admin", cbBody[dialer.Quantities]{}, dialer.Quantities{}, write(s.setManual(true))},
		{"GET", sv + "/overrides", "Rate and limit overrides {category: {item: {rate}}}, {limits: {name: {value}}}", nil, jsonSchema{"type": "object"}, read(s.getOverrides)},
		{"POST", sv + "/overrides", "Replace the overrides; platform admin", cbBody[jsonSchema]{}, jsonSchema{"type": "object"}, write(s.setOverrides(false))},
		{"PATCH", sv + "/overrides", "Merge overrides (null removes); platform admin", cbBody[jsonSchema]{}, jsonSchema{"type": "object"}, write(s.setOverrides(true))},
		{"POST", sv + "/quote", "The summary the account would have with {\"plans\": [ids]}; nothing is written", cbBody[quoteRequest]{}, servicesSummary{}, []gin.HandlerFunc{admin, s.quote}},
		{"GET", sv + "/summary", "Plans, overrides, invoices, quantities, billing cycle, status; Accept: text/csv flattens the invoice items", nil, jsonOrCSV{servicesSummary{}}, read(s.getSummary)},
		{"GET", sv + "/available", "The plan catalogue", nil, []availablePlan{}, read(s.availablePlans)},
		{"GET", sv + "/editable", "What of a plan item may be changed, per category and item", nil, jsonSchema{"type": "object"}, read(s.editable)},
		{"POST", sv + "/reconciliation", "Count the records again and commit the quantities; every drift becomes an audit entry; platform admin", nil, reconciliationAnswer{}, write(s.reconcile)},
		{"POST", sv + "/synchronization", "Re-issue the invoices from the committed quantities and record it; platform admin", nil, servicesSummary{}, write(s.synchronize)},
		{"POST", sv + "/topup", "Credit the prepaid ledger ({\"amount\": dollars} > 0); the account's admins", cbBody[topupRequest]{}, topupAnswer{}, []gin.HandlerFunc{admin, s.topup}},
	}
}

// syncQuantities commits what moved since the last request before a
// services read, so what is shown is what the records say.
func (s *Server) syncQuantities() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.syncedQuantities(c) {
			c.Next()
		}
	}
}

// syncedQuantities commits what moved, answering the failure if it could
// not. A handler whose request has a body calls it once the body is valid:
// a refused request writes nothing.
func (s *Server) syncedQuantities(c *gin.Context) bool {
	if _, err := s.deps.Services.SyncQuantities(c.Request.Context(), cbAccount(c), "quantity", auditWho(c), auditRequest(c)); err != nil {
		s.cbFail(c, err)
		return false
	}
	return true
}

// services reads the account's services document and its plans.
func (s *Server) services(c *gin.Context) (dialer.ServiceDoc, int64, []dialer.Plan, bool) {
	doc, rev, err := s.deps.Services.Services(c.Request.Context(), cbAccount(c))
	if err != nil {
		s.cbFail(c, err)
		return doc, 0, nil, false
	}
	return doc, rev, s.plans().EffectivePlans(doc), true
}

// planView is the plans keyed by id, as GET /services answers them.
func (s *Server) planView(doc dialer.ServiceDoc) map[string]dialer.PlanAssignment {
	out := map[string]dialer.PlanAssignment{}
	for id, a := range doc.Plans {
		if a.Overrides == nil {
			a.Overrides = map[string]any{}
		}
		out[id] = a
	}
	if len(out) == 0 {
		if p, ok := s.plans().Plan(s.plans().Default); ok {
			out[p.ID] = dialer.PlanAssignment{VendorID: "platform", Overrides: map[string]any{}}
		}
	}
	return out
}

func (s *Server) getServices(c *gin.Context) {
	doc, rev, _, ok := s.services(c)
	if !ok {
		return
	}
	s.cbOK(c, http.StatusOK, s.planView(doc), rev, nil)
}

// servicesPost is POST /services: the newer bulk form or the older billing id.
type servicesPost struct {
	Add       []string `json:"add,omitempty"`
	Delete    []string `json:"delete,omitempty"`
	BillingID string   `json:"billing_id,omitempty"`
}

func (s *Server) postServices(c *gin.Context) {
	rev, ok := ifMatch(c)
	if !ok {
		s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
		return
	}
	f, ok := s.cbData(c)
	if !ok {
		return
	}
	var req servicesPost
	var v dialer.Invalid
	for _, k := range []string{"add", "delete"} {
		if raw, ok := f[k]; ok {
			var ids []string
			if json.Unmarshal(raw, &ids) != nil {
				v.Add(k, dialer.Rule(dialer.RuleType, "a list of plan ids"))
			}
			for _, id := range ids {
				if _, known := s.plans().Plan(id); !known {
					v.Add(k, dialer.Rule(dialer.RuleNotFound, "no plan "+clip(id, 64)))
				}
			}
			if k == "add" {
				req.Add = ids
			} else {
				req.Delete = ids
			}
		}
	}
	cbString(f, "billing_id", &req.BillingID, &v)
	_, hasBilling := f["billing_id"]
	if len(req.Add)+len(req.Delete) == 0 && !hasBilling {
		v.Add("add", dialer.Rule(dialer.RuleRequired, "send add and/or delete (plan ids), or billing_id"))
	}
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return
	}
	who, r := auditWho(c), auditRequest(c)
	doc, rev, err := s.deps.Services.UpdateServices(c.Request.Context(), cbAccount(c), rev, func(d *dialer.ServiceDoc) ([]dialer.AuditEntry, error) {
		var entries []dialer.AuditEntry
		if hasBilling && d.BillingID != req.BillingID {
			entries = append(entries, dialer.AuditEntry{Type: "billing", Who: who, Request: r,
				Changes: map[string]any{"billing_id": map[string]any{"from": d.BillingID, "to": req.BillingID}}})
			d.BillingID = req.BillingID
		}
		for _, id := range req.Delete {
			if _, ok := d.Plans[id]; ok {
				delete(d.Plans, id)
				entries = append(entries, dialer.AuditEntry{Type: "plan", Who: who, Request: r, Changes: map[string]any{"removed": id}})
			}
		}
		for _, id := range req.Add {
			if _, ok := d.Plans[id]; !ok {
				d.Plans[id] = dialer.PlanAssignment{VendorID: "platform", Overrides: map[string]any{}}
				entries = append(entries, dialer.AuditEntry{Type: "plan", Who: who, Request: r, Changes: map[string]any{"added": id}})
			}
		}
		return entries, nil
	})
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.servicesChanged(cbAccount(c))
	s.cbOK(c, http.StatusOK, s.planView(doc), rev, nil)
}

func (s *Server) assignPlan(c *gin.Context) { s.changePlan(c, true) }

func (s *Server) unassignPlan(c *gin.Context) { s.changePlan(c, false) }

func (s *Server) changePlan(c *gin.Context, assign bool) {
	id := c.Param("plan_id")
	if _, ok := s.plans().Plan(id); !ok {
		s.cbFail(c, dialer.NotFound("plan "+clip(id, 64)))
		return
	}
	rev, ok := ifMatch(c)
	if !ok {
		s.cbFail(c, dialer.Conflict("If-Match is not a revision of this document"))
		return
	}
	who, r := auditWho(c), auditRequest(c)
	doc, rev, err := s.deps.Services.UpdateServices(c.Request.Context(), cbAccount(c), rev, func(d *dialer.ServiceDoc) ([]dialer.AuditEntry, error) {
		_, has := d.Plans[id]
		switch {
		case assign && !has:
			d.Plans[id] = dialer.PlanAssignment{VendorID: "platform", Overrides: map[string]any{}}
			return []dialer.AuditEntry{{Type: "plan", Who: who, Request: r, Changes: map[string]any{"added": id}}}, nil
		case !assign && has:
			delete(d.Plans, id)
			return []dialer.AuditEntry{{Type: "plan", Who: who, Request: r, Changes: map[string]any{"removed": id}}}, nil
		case !assign:
			return nil, dialer.NotFound("plan " + id + " is not assigned")
		}
		return nil, nil
	})
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.servicesChanged(cbAccount(c))
	s.cbOK(c, http.StatusOK, s.planView(doc), rev, nil)
}

// servicesStatus is GET /services/status.
type servicesStatus struct {
	InGoodStanding bool   `json:"in_good_standing"`
	Reason         string `json:"reason,omitempty"`
	ReasonCode     int    `json:"reason_code,omitempty"`
}

// standing says whether the account may dial: a prepaid account needs
// credit, and the month's call seconds must be within the plan's.
func standing(limits dialer.PlanLimits, ledger dialer.Ledger, monthSeconds int64) servicesStatus {
	switch {
	case limits.Prepaid && ledger.Balance <= 0:
		return servicesStatus{Reason: "no credit: the account is prepaid and its ledger is at " + dollars(ledger.Balance) + "; top up", ReasonCode: http.StatusPaymentRequired}
	case limits.MonthlyCallSeconds > 0 && monthSeconds >= limits.MonthlyCallSeconds:
		return servicesStatus{Reason: fmt.Sprintf("the plan's %d call seconds this month are used up", limits.MonthlyCallSeconds), ReasonCode: http.StatusForbidden}
	}
	return servicesStatus{InGoodStanding: true}
}

func dollars(micros int64) string { return strconv.FormatFloat(dialer.Dollars(micros), 'f', 2, 64) }

// periodUsage sums the usage audited since the month began.
func (s *Server) periodUsage(c *gin.Context, now time.Time) (dialer.Quantities, bool) {
	entries, err := s.deps.Services.AuditEntries(c.Request.Context(), cbAccount(c),
		dialer.AuditQuery{From: monthOf(now).Unix(), To: math.MaxInt64})
	if err != nil {
		s.cbFail(c, err)
		return nil, false
	}
	out := dialer.Quantities{}
	for _, e := range entries {
		if e.SumQuantity {
			out.Set(e.Category, e.Item, out.Get(e.Category, e.Item)+e.Quantity)
		}
	}
	return out, true
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (s *Server) getServicesStatus(c *gin.Context) {
	doc, _, plans, ok := s.services(c)
	if !ok {
		return
	}
	ledger, err := s.deps.Services.Ledger(c.Request.Context(), cbAccount(c))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	usage, ok := s.periodUsage(c, s.cfg.Now())
	if !ok {
		return
	}
	st := standing(dialer.EffectiveLimits(plans, doc.Overrides), ledger, usage.Get("call_seconds", "answered"))
	s.cbOK(c, http.StatusOK, st, 0, nil)
}

// auditRow is an entry in the audit list.
type auditRow struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
}

func auditSummaryLine(e dialer.AuditEntry) string {
	switch {
	case e.SumQuantity:
		return fmt.Sprintf("%s.%s used %d %s", e.Category, e.Item, e.Quantity, e.Unit)
	case e.Category != "" && e.Addition > 0:
		return fmt.Sprintf("%s.%s +%d = %d", e.Category, e.Item, e.Addition, e.Quantity)
	case e.Category != "" && e.Removal > 0:
		return fmt.Sprintf("%s.%s -%d = %d", e.Category, e.Item, e.Removal, e.Quantity)
	}
	b, _ := json.Marshal(e.Changes)
	return e.Type + " " + string(b)
}

// auditDoc is one audit entry in full.
type auditDoc struct {
	ID             string              `json:"id"`
	Status         string              `json:"status"`
	Reason         string              `json:"reason,omitempty"`
	Message        string              `json:"message,omitempty"`
	Type           string              `json:"type"`
	Timestamp      int64               `json:"timestamp"`
	Audit          auditQuantity       `json:"audit"`
	Authentication dialer.AuditWho     `json:"authentication"`
	Request        dialer.AuditRequest `json:"request"`
	Changes        map[string]any      `json:"changes"`
}

type auditQuantity struct {
	Category    string `json:"category,omitempty"`
	Item        string `json:"item,omitempty"`
	Addition    int64  `json:"addition"`
	Removal     int64  `json:"removal"`
	Quantity    int64  `json:"quantity"`
	SumQuantity bool   `json:"sum_quantity"`
	Unit        string `json:"unit,omitempty"`
}

func showAudit(e dialer.AuditEntry) auditDoc {
	return auditDoc{ID: e.ID, Status: e.Status, Reason: e.Reason, Message: e.Message, Type: e.Type,
		Timestamp: e.At.Unix() + dialer.GregorianOffset,
		Audit: auditQuantity{Category: e.Category, Item: e.Item, Addition: e.Addition, Removal: e.Removal, Quantity: e.Quantity,
			SumQuantity: e.SumQuantity, Unit: e.Unit},
		Authentication: e.Who, Request: e.Request, Changes: e.Changes}
}

// auditRange reads created_from and created_to (Gregorian seconds) into
// unix seconds; the default is the last 31 days.
func (s *Server) auditRange(c *gin.Context) (from, to int64, ok bool) {
	// Entries are stamped by the store's clock: without created_to,
	// nothing is too recent.
	now := s.cfg.Now().Unix()
	from, to = now-31*86400, math.MaxInt64

	var v dialer.Invalid
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"created_from", &from}, {"created_to", &to}} {
		if raw := c.Query(p.name); raw != "" {
			g, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || g < dialer.GregorianOffset {
				v.Add(p.name, dialer.Rule(dialer.RuleType, "Gregorian seconds (unix + 62167219200)"))
				continue
			}
			*p.dst = g - dialer.GregorianOffset
		}
	}
	if from > to && !v.Has("created_from") {
		v.Add("created_from", dialer.Rule(dialer.RuleMinimum, "must not be after created_to"))
	}
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return 0, 0, false
	}
	return from, to, true
}

func (s *Server) listAudit(c *gin.Context) {
	from, to, ok := s.auditRange(c)
	if !ok {
		return
	}
	p, ok := s.cbPaging(c)
	if !ok {
		return
	}
	rows, err := s.deps.Services.AuditEntries(c.Request.Context(), cbAccount(c),
		dialer.AuditQuery{From: from, To: to, StartKey: p.startKey, Limit: p.limit})
	if err != nil {
		s.cbFail(c, err)
		return
	}
	cbList(s, c, p, rows, func(e dialer.AuditEntry) string { return e.ID }, func(e dialer.AuditEntry) auditRow {
		return auditRow{ID: e.ID, Status: e.Status, Reason: e.Reason, Message: e.Message, Type: e.Type, Summary: auditSummaryLine(e)}
	})
}

func (s *Server) getAudit(c *gin.Context) {
	e, err := s.deps.Services.AuditEntry(c.Request.Context(), cbAccount(c), c.Param("audit_id"))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, showAudit(e), 0, nil)
}

// daySummary is one source's changes on one UTC day.
type daySummary struct {
	Addition      int64  `json:"addition"`
	Removal       int64  `json:"removal"`
	Quantity      int64  `json:"quantity"`
	LastTimestamp int64  `json:"last_timestamp"`
	SumQuantity   bool   `json:"sum_quantity"`
	Unit          string `json:"unit,omitempty"`
}

// summarizeAudit aggregates quantity and usage entries per source (the
// category) and UTC day. A stock's additions and removals are summed and
// its quantity is the category's total after the day's last change;
// usage's quantity is summed. Entries come in time order.
func summarizeAudit(entries []dialer.AuditEntry) map[string]map[string]daySummary {
	out := map[string]map[string]daySummary{}
	for _, e := range entries {
		if e.Category == "" || (e.Type != "quantity" && e.Type != "reconciliation" && e.Type != "usage") {
			continue
		}
		day := e.At.UTC().Format("2006-01-02")
		if out[e.Category] == nil {
			out[e.Category] = map[string]daySummary{}
		}
		d := out[e.Category][day]
		d.Addition += e.Addition
		d.Removal += e.Removal
		d.SumQuantity, d.Unit = e.SumQuantity, e.Unit
		if e.SumQuantity {
			d.Quantity += e.Quantity
		} else {
			d.Quantity = e.CategoryTotal
		}
		d.LastTimestamp = max(d.LastTimestamp, e.At.Unix()+dialer.GregorianOffset)
		out[e.Category][day] = d
	}
	return out
}

// auditSummary answers the whole account as [{source: {day: …}}] and one
// source as [{day: …}, …], newest first.
func (s *Server) auditSummary(c *gin.Context) {
	from, to, ok := s.auditRange(c)
	if !ok {
		return
	}
	source := c.Param("source")
	entries, err := s.deps.Services.AuditEntries(c.Request.Context(), cbAccount(c), dialer.AuditQuery{From: from, To: to, Category: source})
	if err != nil {
		s.cbFail(c, err)
		return
	}
	sum := summarizeAudit(entries)
	if source == "" {
		s.cbOK(c, http.StatusOK, []map[string]map[string]daySummary{sum}, 0, nil)
		return
	}
	days := sum[source]
	out := []map[string]daySummary{}
	for _, day := range slices.Backward(slices.Sorted(maps.Keys(days))) {
		out = append(out, map[string]daySummary{day: days[day]})
	}
	s.cbOK(c, http.StatusOK, out, 0, nil)
}

func (s *Server) getManual(c *gin.Context) {
	doc, rev, _, ok := s.services(c)
	if !ok {
		return
	}
	s.cbOK(c, http.StatusOK, doc.Manual, rev, nil)
}

// quantityNames are category and item names as quantities take them.
func validQuantityName(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
}

// setManual is POST (replace) and PATCH (merge; null removes an item or a
// category) of the manual quantities. Every item that changes is audited.
func (s *Server) setManual(merge bool) gin.HandlerFunc {
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
		delete(f, "accept_charges")
		var v dialer.Invalid
		patch := map[string]map[string]*int64{}
		for cat, raw := range f {
			if !validQuantityName(cat) {
				v.Add(cat, dialer.Rule(dialer.RulePattern, "a category is lower-case letters, digits, '_' and '-'"))
				continue
			}
			if string(raw) == "null" {
				patch[cat] = nil
				continue
			}
			var items map[string]*int64
			if json.Unmarshal(raw, &items) != nil {
				v.Add(cat, dialer.Rule(dialer.RuleType, "{item: a whole number ≥ 0}"))
				continue
			}
			for item, n := range items {
				switch {
				case !validQuantityName(item):
					v.Add(cat+"."+item, dialer.Rule(dialer.RulePattern, "an item is lower-case letters, digits, '_' and '-'"))
				case n != nil && *n < 0:
					v.Add(cat+"."+item, dialer.Rule(dialer.RuleMinimum, "must be at least 0"))
				}
			}
			if items == nil {
				items = map[string]*int64{}
			}
			patch[cat] = items
		}
		if err := v.Err(); err != nil {
			s.cbFail(c, err)
			return
		}
		who, r := auditWho(c), auditRequest(c)
		doc, rev, err := s.deps.Services.UpdateServices(c.Request.Context(), cbAccount(c), rev, func(d *dialer.ServiceDoc) ([]dialer.AuditEntry, error) {
			next := dialer.Quantities{}
			if merge {
				next = d.Manual.Clone()
			}
			for cat, items := range patch {
				if items == nil {
					delete(next, cat)
					continue
				}
				for item, n := range items {
					if n == nil {
						delete(next[cat], item)
						continue
					}
					next.Set(cat, item, *n)
				}
				if len(next[cat]) == 0 {
					delete(next, cat)
				}
			}
			entries := manualChanges(d.Manual, next, who, r)
			d.Manual = next
			return entries, nil
		})
		if err != nil {
			s.cbFail(c, err)
			return
		}
		s.servicesChanged(cbAccount(c))
		s.cbOK(c, http.StatusOK, doc.Manual, rev, nil)
	}
}

// manualChanges audits every item whose manual quantity changed.
func manualChanges(old, next dialer.Quantities, who dialer.AuditWho, r dialer.AuditRequest) []dialer.AuditEntry {
	var out []dialer.AuditEntry
	keys := map[[2]string]bool{}
	for c, items := range old {
		for i := range items {
			keys[[2]string{c, i}] = true
		}
	}
	for c, items := range next {
		for i := range items {
			keys[[2]string{c, i}] = true
		}
	}
	sorted := slices.SortedFunc(maps.Keys(keys), func(a, b [2]string) int { return strings.Compare(a[0]+"."+a[1], b[0]+"."+b[1]) })
	for _, k := range sorted {
		was, okWas := old[k[0]][k[1]]
		now, okNow := next[k[0]][k[1]]
		if okWas == okNow && was == now {
			continue
		}
		ch := map[string]any{"category": k[0], "item": k[1], "from": nil, "to": nil}
		if okWas {
			ch["from"] = was
		}
		if okNow {
			ch["to"] = now
		}
		out = append(out, dialer.AuditEntry{Type: "manual", Category: k[0], Item: k[1], Quantity: now, Who: who, Request: r, Changes: ch})
	}
	return out
}

func (s *Server) getOverrides(c *gin.Context) {
	doc, rev, _, ok := s.services(c)
	if !ok {
		return
	}
	s.cbOK(c, http.StatusOK, doc.Overrides, rev, nil)
}

// setOverrides is POST (replace) and PATCH (merge; null removes) of the
// overrides {category: {item: {property: value}}}; a rate, and a limit's
// value, must be numbers ≥ 0.
func (s *Server) setOverrides(merge bool) gin.HandlerFunc {
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
		delete(f, "accept_charges")
		var v dialer.Invalid
		patch := map[string]map[string]map[string]any{}
		for cat, raw := range f {
			if !validQuantityName(cat) {
				v.Add(cat, dialer.Rule(dialer.RulePattern, "a category is lower-case letters, digits, '_' and '-'"))
				continue
			}
			if string(raw) == "null" {
				patch[cat] = nil
				continue
			}
			var items map[string]map[string]any
			if json.Unmarshal(raw, &items) != nil {
				v.Add(cat, dialer.Rule(dialer.RuleType, "{item: {property: value}}"))
				continue
			}
			for item, props := range items {
				for _, k := range []string{"rate", "value"} {
					if x, ok := props[k]; ok && x != nil {
						if n, isNum := x.(float64); !isNum || n < 0 || math.IsInf(n, 0) {
							v.Add(cat+"."+item+"."+k, dialer.Rule(dialer.RuleMinimum, "a number ≥ 0"))
						}
					}
				}
			}
			if items == nil {
				items = map[string]map[string]any{}
			}
			patch[cat] = items
		}
		if err := v.Err(); err != nil {
			s.cbFail(c, err)
			return
		}
		who, r := auditWho(c), auditRequest(c)
		doc, rev, err := s.deps.Services.UpdateServices(c.Request.Context(), cbAccount(c), rev, func(d *dialer.ServiceDoc) ([]dialer.AuditEntry, error) {
			next := map[string]map[string]map[string]any{}
			if merge {
				for cat, items := range d.Overrides {
					next[cat] = maps.Clone(items)
				}
			}
			for cat, items := range patch {
				if items == nil {
					delete(next, cat)
					continue
				}
				if next[cat] == nil {
					next[cat] = map[string]map[string]any{}
				}
				for item, props := range items {
					if props == nil {
						delete(next[cat], item)
						continue
					}
					next[cat][item] = props
				}
				if len(next[cat]) == 0 {
					delete(next, cat)
				}
			}
			entry := dialer.AuditEntry{Type: "overrides", Who: who, Request: r, Changes: map[string]any{"from": d.Overrides, "to": next}}
			d.Overrides = next
			return []dialer.AuditEntry{entry}, nil
		})
		if err != nil {
			s.cbFail(c, err)
			return
		}
		s.servicesChanged(cbAccount(c))
		s.cbOK(c, http.StatusOK, doc.Overrides, rev, nil)
	}
}

// invoiceItem is one priced line of an invoice.
type invoiceItem struct {
	Category string  `json:"category"`
	Item     string  `json:"item"`
	Quantity int64   `json:"quantity"`
	Billable int64   `json:"billable"`
	Rate     float64 `json:"rate"`
	Total    float64 `json:"total"`
}

type invoice struct {
	Plans   []string      `json:"plans"`
	Items   []invoiceItem `json:"items"`
	Summary struct {
		Today     float64 `json:"today"`
		Recurring float64 `json:"recurring"`
	} `json:"summary"`
}

type billingCycle struct {
	Period      string `json:"period"`
	PeriodStart int64  `json:"period_start"`
	PeriodEnd   int64  `json:"period_end"`
}

type summaryStatus struct {
	Acceptable bool   `json:"acceptable"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message,omitempty"`
}

type summaryQuantities struct {
	Account dialer.Quantities `json:"account"`
	Cascade dialer.Quantities `json:"cascade"`
	Manual  dialer.Quantities `json:"manual"`
}

type ledgerView struct {
	Balance  float64 `json:"balance"`
	Credited float64 `json:"credited"`
	Debited  float64 `json:"debited"`
	Seconds  int64   `json:"seconds"`
}

func showLedger(l dialer.Ledger) ledgerView {
	return ledgerView{Balance: dialer.Dollars(l.Balance), Credited: dialer.Dollars(l.Credited), Debited: dialer.Dollars(l.Debited), Seconds: l.Seconds}
}

// servicesSummary is GET /services/summary (and what quote and
// synchronization answer).
type servicesSummary struct {
	Plans        map[string]dialer.PlanAssignment     `json:"plans"`
	Overrides    map[string]map[string]map[string]any `json:"overrides"`
	Invoices     []invoice                            `json:"invoices"`
	Quantities   summaryQuantities                    `json:"quantities"`
	BillingCycle billingCycle                         `json:"billing_cycle"`
	Status       summaryStatus                        `json:"status"`
	Limits       dialer.PlanLimits                    `json:"limits"`
	Ledger       ledgerView                           `json:"ledger"`
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// summarize prices quantities: stock items (the live count, manual
// winning) are the recurring monthly charge, usage this period (call
// seconds, SMS, faxes, emails) is charged today. Items no plan prices are
// not invoiced.
func (s *Server) summarize(doc dialer.ServiceDoc, plans []dialer.Plan, stock, usage dialer.Quantities,
	ledger dialer.Ledger, now time.Time) servicesSummary {
	account := stock.Clone()
	for c, items := range usage {
		for i, n := range items {
			account.Set(c, i, n)
		}
	}
	effective := account.Merge(doc.Manual)
	inv := invoice{Plans: []string{}, Items: []invoiceItem{}}
	for _, p := range plans {
		inv.Plans = append(inv.Plans, p.ID)
	}
	for _, cat := range slices.Sorted(maps.Keys(effective)) {
		_, isUsage := dialer.UsageUnit(cat)
		for _, item := range slices.Sorted(maps.Keys(effective[cat])) {
			rate, priced := dialer.Rate(plans, doc.Overrides, cat, item)
			if !priced {
				continue
			}
			n := effective[cat][item]
			it := invoiceItem{Category: cat, Item: item, Quantity: n, Billable: n, Rate: rate, Total: round6(float64(n) * rate)}
			inv.Items = append(inv.Items, it)
			if isUsage {
				inv.Summary.Today = round6(inv.Summary.Today + it.Total)
			} else {
				inv.Summary.Recurring = round6(inv.Summary.Recurring + it.Total)
			}
		}
	}
	limits := dialer.EffectiveLimits(plans, doc.Overrides)
	st := standing(limits, ledger, effective.Get("call_seconds", "answered"))
	start := monthOf(now)
	view := map[string]dialer.PlanAssignment{}
	for _, p := range plans {
		a, ok := doc.Plans[p.ID]
		if !ok {
			a = dialer.PlanAssignment{VendorID: "platform"}
		}
		if a.Overrides == nil {
			a.Overrides = map[string]any{}
		}
		view[p.ID] = a
	}
	return servicesSummary{
		Plans: view, Overrides: doc.Overrides, Invoices: []invoice{inv},
		Quantities:   summaryQuantities{Account: account, Cascade: dialer.Quantities{}, Manual: doc.Manual},
		BillingCycle: billingCycle{Period: "monthly", PeriodStart: start.Unix() + dialer.GregorianOffset, PeriodEnd: start.AddDate(0, 1, 0).Unix() + dialer.GregorianOffset},
		Status:       summaryStatus{Acceptable: st.InGoodStanding, Reason: reasonAtom(st), Message: st.Reason},
		Limits:       limits, Ledger: showLedger(ledger),
	}
}

func reasonAtom(st servicesStatus) string {
	switch st.ReasonCode {
	case http.StatusPaymentRequired:
		return "no_credit"
	case http.StatusForbidden:
		return "limit_reached"
	}
	return ""
}

// summaryFor computes the summary of plans over the live (or committed)
// quantities.
func (s *Server) summaryFor(c *gin.Context, doc dialer.ServiceDoc, plans []dialer.Plan, committed bool) (servicesSummary, bool) {
	ctx, tenant, now := c.Request.Context(), cbAccount(c), s.cfg.Now()
	var stock dialer.Quantities
	var err error
	if committed {
		stock, err = s.deps.Services.CommittedQuantities(ctx, tenant)
	} else {
		stock, err = s.deps.Services.LiveQuantities(ctx, tenant)
	}
	if err != nil {
		s.cbFail(c, err)
		return servicesSummary{}, false
	}
	for cat := range stock {
		if _, usage := dialer.UsageUnit(cat); usage {
			delete(stock, cat) // running totals: the period's usage is counted from the audit
		}
	}
	usage, ok := s.periodUsage(c, now)
	if !ok {
		return servicesSummary{}, false
	}
	ledger, err := s.deps.Services.Ledger(ctx, tenant)
	if err != nil {
		s.cbFail(c, err)
		return servicesSummary{}, false
	}
	return s.summarize(doc, plans, stock, usage, ledger, now), true
}

func (s *Server) getSummary(c *gin.Context) {
	doc, rev, plans, ok := s.services(c)
	if !ok {
		return
	}
	sum, ok := s.summaryFor(c, doc, plans, false)
	if !ok {
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		_ = w.Write([]string{"category", "item", "quantity", "billable", "rate", "total"})
		for _, inv := range sum.Invoices {
			for _, it := range inv.Items {
				_ = w.Write([]string{csvCell(it.Category), csvCell(it.Item), strconv.FormatInt(it.Quantity, 10),
					strconv.FormatInt(it.Billable, 10), strconv.FormatFloat(it.Rate, 'f', -1, 64), strconv.FormatFloat(it.Total, 'f', -1, 64)})
			}
		}
		w.Flush()
		return
	}
	s.cbOK(c, http.StatusOK, sum, rev, nil)
}

// quoteRequest is POST /services/quote.
type quoteRequest struct {
	Plans []string `json:"plans" required:"always"`
}

func (s *Server) quote(c *gin.Context) {
	f, ok := s.cbData(c)
	if !ok {
		return
	}
	var req quoteRequest
	var v dialer.Invalid
	raw, has := f["plans"]
	switch {
	case !has:
		v.Add("plans", dialer.Rule(dialer.RuleRequired, "Field is required but missing"))
	case json.Unmarshal(raw, &req.Plans) != nil:
		v.Add("plans", dialer.Rule(dialer.RuleType, "a list of plan ids"))
	}
	var plans []dialer.Plan
	for _, id := range req.Plans {
		p, ok := s.plans().Plan(id)
		if !ok {
			v.Add("plans", dialer.Rule(dialer.RuleNotFound, "no plan "+clip(id, 64)))
			continue
		}
		plans = append(plans, p)
	}
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return
	}
	if !s.syncedQuantities(c) {
		return
	}
	doc, _, _, ok := s.services(c)
	if !ok {
		return
	}
	doc.Plans = map[string]dialer.PlanAssignment{}
	for _, p := range plans {
		doc.Plans[p.ID] = dialer.PlanAssignment{VendorID: "platform"}
	}
	sum, ok := s.summaryFor(c, doc, plans, false)
	if !ok {
		return
	}
	s.cbOK(c, http.StatusOK, sum, 0, nil)
}

// availablePlan is one plan of GET /services/available.
type availablePlan struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Category    string            `json:"category"`
	Default     bool              `json:"default,omitempty"`
	Limits      dialer.PlanLimits `json:"limits"`
}

func (s *Server) availablePlans(c *gin.Context) {
	cat := s.plans()
	out := make([]availablePlan, 0, len(cat.Plans))
	for _, p := range cat.Plans {
		out = append(out, availablePlan{ID: p.ID, Name: p.Name, Description: p.Description, Category: p.Category,
			Default: p.ID == cat.Default, Limits: p.Limits})
	}
	s.cbOK(c, http.StatusOK, out, 0, nil)
}

// editable lists, per category and item any plan prices (and the limits),
// the properties an override may set.
func (s *Server) editable(c *gin.Context) {
	out := map[string]map[string]any{}
	for _, p := range s.plans().Plans {
		for cat, items := range p.Items {
			if out[cat] == nil {
				out[cat] = map[string]any{}
			}
			for item := range items {
				out[cat][item] = map[string]any{"rate": map[string]any{"type": "number", "minimum": 0}}
			}
		}
	}
	out["limits"] = map[string]any{}
	for _, l := range []string{"channels", "cpm", "contacts", "campaigns", "campaigns_running", "monthly_call_seconds", "prepaid"} {
		out["limits"][l] = map[string]any{"value": map[string]any{"type": "number", "minimum": 0}}
	}
	s.cbOK(c, http.StatusOK, out, 0, nil)
}

// reconciliationAnswer lists the drifts committed.
type reconciliationAnswer struct {
	Changes    []auditRow        `json:"changes"`
	Quantities dialer.Quantities `json:"quantities"`
}

func (s *Server) reconcile(c *gin.Context) {
	ctx := c.Request.Context()
	entries, err := s.deps.Services.SyncQuantities(ctx, cbAccount(c), "reconciliation", auditWho(c), auditRequest(c))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	q, err := s.deps.Services.CommittedQuantities(ctx, cbAccount(c))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	out := reconciliationAnswer{Changes: []auditRow{}, Quantities: q}
	for _, e := range entries {
		out.Changes = append(out.Changes, auditRow{ID: e.ID, Status: e.Status, Type: e.Type, Reason: e.Reason, Summary: auditSummaryLine(e)})
	}
	s.servicesChanged(cbAccount(c))
	s.cbOK(c, http.StatusOK, out, 0, nil)
}

func (s *Server) synchronize(c *gin.Context) {
	doc, _, plans, ok := s.services(c)
	if !ok {
		return
	}
	sum, ok := s.summaryFor(c, doc, plans, true)
	if !ok {
		return
	}
	inv := sum.Invoices[0]
	if _, err := s.deps.Services.RecordAudit(c.Request.Context(), []dialer.AuditEntry{{TenantID: cbAccount(c), Type: "synchronization",
		Who: auditWho(c), Request: auditRequest(c), Message: "invoices re-issued from the committed quantities",
		Changes: map[string]any{"plans": inv.Plans, "today": inv.Summary.Today, "recurring": inv.Summary.Recurring, "items": len(inv.Items)}}}); err != nil {
		s.cbFail(c, err)
		return
	}
	s.cbOK(c, http.StatusOK, sum, 0, nil)
}

// topupRequest is POST /services/topup: dollars.
type topupRequest struct {
	Amount float64 `json:"amount" required:"always" doc:"dollars, more than 0"`
}

type topupAnswer struct {
	Ledger  ledgerView `json:"ledger"`
	AuditID string     `json:"audit_id"`
}

func (s *Server) topup(c *gin.Context) {
	f, ok := s.cbData(c)
	if !ok {
		return
	}
	var v dialer.Invalid
	var amount float64
	raw, has := f["amount"]
	switch {
	case !has || string(raw) == "null":
		v.Add("amount", dialer.Rule(dialer.RuleRequired, "Field is required but missing"))
	case json.Unmarshal(raw, &amount) != nil:
		v.Add("amount", dialer.Rule(dialer.RuleType, "a number of dollars"))
	case amount <= 0 || math.IsInf(amount, 0) || amount > 1e9:
		v.Add("amount", dialer.Rule(dialer.RuleMinimum, "must be more than 0 (and at most 1000000000)"))
	case dialer.MicroDollars(amount) <= 0:
		v.Add("amount", dialer.Rule(dialer.RuleMinimum, "must be at least 0.000001"))
	}
	if err := v.Err(); err != nil {
		s.cbFail(c, err)
		return
	}
	ledger, e, err := s.deps.Services.Topup(c.Request.Context(), cbAccount(c), dialer.MicroDollars(amount), auditWho(c), auditRequest(c))
	if err != nil {
		s.cbFail(c, err)
		return
	}
	s.servicesChanged(cbAccount(c))
	s.cbOK(c, http.StatusOK, topupAnswer{Ledger: showLedger(ledger), AuditID: e.ID}, 0, nil)
}

// quantitySpacing separates two syncs of a tenant asked for by writes: a
// stream of writes costs one count every quantitySpacing, not one per
// write (the counts scan the tenant's spools, and the engine shares the
// machine).
const quantitySpacing = 2 * time.Second

// quantityWatch coalesces the quantity syncs writes ask for: per tenant
// one runs at a time, and one more follows, quantitySpacing later, if
// writes came meanwhile.
type quantityWatch struct {
	mu      sync.Mutex
	running map[string]bool // tenant → another sync is wanted after this one
}

// quantitiesAfterWrites syncs the quantities of the tenant of every
// successful write, of any surface, in the background: a user, account,
// contact or campaign created or deleted becomes an audit entry even if
// nobody reads the services soon. The write's answer does not wait.
func (s *Server) quantitiesAfterWrites() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if s.deps.Services == nil || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead ||
			c.Writer.Status() >= 300 {
			return
		}
		v, ok := c.Get(ctxActor)
		if !ok {
			return
		}
		tenant := v.(dialer.Actor).TenantID
		if crossbarPath(c.Request.URL.Path) {
			tenant = cbAccount(c)
		}
		s.watchQuantities(tenant, auditWho(c), auditRequest(c))
	}
}

func (s *Server) watchQuantities(tenant string, who dialer.AuditWho, req dialer.AuditRequest) {
	w := &s.quantities
	w.mu.Lock()
	if again, busy := w.running[tenant]; busy {
		if !again {
			w.running[tenant] = true
		}
		w.mu.Unlock()
		return
	}
	if w.running == nil {
		w.running = map[string]bool{}
	}
	w.running[tenant] = false
	w.mu.Unlock()
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := s.deps.Services.SyncQuantities(ctx, tenant, "quantity", who, req); err != nil {
				s.log.Warn("services: quantities not synced after a write", "tenant", tenant, "err", err)
			}
			cancel()
			w.mu.Lock()
			if !w.running[tenant] {
				delete(w.running, tenant)
				w.mu.Unlock()
				return
			}
			w.running[tenant] = false
			w.mu.Unlock()
			time.Sleep(quantitySpacing)
		}
	}()
}
