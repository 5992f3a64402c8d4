package store

import (
	"fmt"
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

// where builds the WHERE clause and arguments for scope and q, and the
// LIMIT/OFFSET tail. An unknown filter field is a validation error.
func (s listSpec) where(scope dialer.Scope, q dialer.ListQuery) (clause string, args []any, tail string, err error) {
	conds := []string{s.table + ".tenant_id = ?"}
	args = []any{scope.TenantID}
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
		return "", nil, "", err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = dialer.DefaultPageSize
	}
	limit = min(limit, dialer.MaxPageSize)
	offset := max(q.Offset, 0)
	tail = fmt.Sprintf(" ORDER BY %s.%s LIMIT %d OFFSET %d", s.table, s.idCol, limit, offset)
	return " WHERE " + strings.Join(conds, " AND "), args, tail, nil
}
