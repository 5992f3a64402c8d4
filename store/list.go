package store

import (
	"maps"
	"slices"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// listSpec describes how a resource is listed: which API fields may be
// filtered on and the SQL column each one means. Only these columns ever
// reach SQL, and only as identifiers chosen here; values are bound.
type listSpec struct {
	table string
	idCol string // stable order and tie-break
	// ownerCond restricts rows to those an OwnerID may see; every ? in it
	// is bound to the OwnerID. "" means the resource has no owner.
	ownerCond string
	fields    map[string]string // API field -> SQL column
}

// listPage is one page of a listing as SQL: its WHERE clause with the
// arguments, its order, and LIMIT and OFFSET, which are bound rather than
// written into the text so that every page of a listing is one statement
// (the connection's statement cache keys on the text).
type listPage struct {
	where  string // " WHERE …"
	args   []any
	order  string // " ORDER BY …"
	limit  int
	offset int
	// narrowed says the page is filtered beyond its tenant (a field filter
	// or an owner), so it cannot be cut from an index of the tenant's rows.
	narrowed bool
}

// and adds a condition with its arguments.
func (p listPage) and(cond string, args ...any) listPage {
	p.where += " AND " + cond
	p.args = append(slices.Clip(p.args), args...)
	return p
}

// query is the statement and its arguments for the rows that head (SELECT …
// FROM …) selects.
func (p listPage) query(head string) (string, []any) {
	return head + p.where + p.order + " LIMIT ? OFFSET ?", append(slices.Clip(p.args), p.limit, p.offset)
}

// keyedQuery is the statement and arguments for the rows of the page of
// table that head selects, cut from table's ids first: the inner query
// skips the offset through whichever index answers the WHERE (covering,
// where one exists) and only the page's own rows are then read. Skipping
// the offset over full rows costs a row lookup for every skipped row.
func (p listPage) keyedQuery(head, table, idCol string) (string, []any) {
	return head + ` FROM (SELECT ` + table + `.` + idCol + ` AS id FROM ` + table + p.where + p.order + ` LIMIT ? OFFSET ?) AS page
		CROSS JOIN ` + table + ` ON ` + table + `.` + idCol + ` = page.id ORDER BY page.id`, append(slices.Clip(p.args), p.limit, p.offset)
}

// page builds the listing of scope and q. An unknown filter field is a
// validation error.
func (s listSpec) page(scope dialer.Scope, q dialer.ListQuery) (listPage, error) {
	conds := []string{s.table + ".tenant_id = ?"}
	args := []any{scope.TenantID}
	if scope.OwnerID != 0 && s.ownerCond != "" {
		conds = append(conds, "("+s.ownerCond+")")
		for range strings.Count(s.ownerCond, "?") {
			args = append(args, scope.OwnerID)
		}
	}
	var v dialer.Invalid
	for _, f := range slices.Sorted(maps.Keys(q.Filters)) {
		col, ok := s.fields[f]
		if !ok {
			v.Add(f, "not a field that can be searched; known: "+strings.Join(slices.Sorted(maps.Keys(s.fields)), ", "))
			continue
		}
		conds = append(conds, s.table+"."+col+" = ?")
		args = append(args, q.Filters[f])
	}
	if err := v.Err(); err != nil {
		return listPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = dialer.DefaultPageSize
	}
	return listPage{
		where: " WHERE " + strings.Join(conds, " AND "), args: args,
		order: " ORDER BY " + s.table + "." + s.idCol,
		limit: min(limit, dialer.MaxPageSize), offset: max(q.Offset, 0),
		narrowed: len(conds) > 1,
	}, nil
}
