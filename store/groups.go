package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// groupCols reads a group with its member count. The count walks the
// group's part of the group_contacts primary key, not the table.
const groupCols = groupColsHead + `(SELECT COUNT(*) FROM group_contacts WHERE group_contacts.group_id = groups.group_id)` + groupColsTail

// groupHeaderCols are groupCols with a contact_total of 0 (GroupHeader).
const groupHeaderCols = groupColsHead + `0` + groupColsTail

const (
	groupColsHead = `groups.group_id, groups.tenant_id, groups.name, groups.description, `
	groupColsTail = `, groups.created_by, groups.created_by_crn, groups.created_at, groups.updated_at`
)

var groupList = listSpec{
	table: "groups", idCol: "group_id",
	ownerCond: "groups.created_by = ?",
	fields: map[string]string{
		"group_id": "group_id", "id": "group_id", "name": "name", "description": "description",
		"created_by": "created_by",
	},
}

func scanGroup(r rowScanner) (dialer.Group, error) {
	var g dialer.Group
	err := r.Scan(&g.ID, &g.TenantID, &g.Name, &g.Description, &g.ContactTotal, &g.CreatedBy, creatorCRN{&g.CreatedByCRN, &g.CreatedBy}, &g.CreatedAt, &g.UpdatedAt)
	return g, err
}

// CreateGroup stores a validated group; TenantID and CreatedBy must be set.
func (db *DB) CreateGroup(ctx context.Context, g dialer.Group) (int64, error) {
	now := time.Now().Unix()
	res, err := db.w.ExecContext(ctx, `INSERT INTO groups (tenant_id, created_by, created_by_crn, name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, g.TenantID, g.CreatedBy, g.CreatedByCRN, g.Name, g.Description, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: insert group: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: insert group: %w", err)
	}
	return id, nil
}

// Group returns a group of the tenant with its member count.
func (db *DB) Group(ctx context.Context, tenantID string, id int64) (dialer.Group, error) {
	g, err := scanGroup(db.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups WHERE tenant_id = ? AND group_id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, dialer.NotFound("group")
	}
	if err != nil {
		return g, fmt.Errorf("store: group %d: %w", id, err)
	}
	return g, nil
}

// GroupHeader is the group without its contact_total (left 0), for the
// checks that only need to know it exists and who owns it: counting a
// large group's members is most of the cost of reading it.
func (db *DB) GroupHeader(ctx context.Context, tenantID string, id int64) (dialer.Group, error) {
	g, err := scanGroup(db.r.QueryRowContext(ctx, `SELECT `+groupHeaderCols+` FROM groups WHERE tenant_id = ? AND group_id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, dialer.NotFound("group")
	}
	if err != nil {
		return g, fmt.Errorf("store: group %d: %w", id, err)
	}
	return g, nil
}

// EachGroup streams one page of the groups in scope to fn, in id order.
func (db *DB) EachGroup(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.Group) error) error {
	page, err := groupList.page(scope, q)
	if err != nil {
		return err
	}
	query, args := page.query(`SELECT ` + groupCols + ` FROM groups`)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: list groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return fmt.Errorf("store: list groups: %w", err)
		}
		if err := fn(g); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list groups: %w", err)
	}
	return nil
}

// UpdateGroup saves the name and description of a validated group.
func (db *DB) UpdateGroup(ctx context.Context, g dialer.Group) error {
	res, err := db.w.ExecContext(ctx, `UPDATE groups SET name = ?, description = ?, updated_at = ?
		WHERE tenant_id = ? AND group_id = ?`, g.Name, g.Description, time.Now().Unix(), g.TenantID, g.ID)
	if err != nil {
		return fmt.Errorf("store: update group: %w", err)
	}
	return mustAffect(res, "group")
}

// DeleteGroup removes a group and its memberships; its contacts stay. A
// group a campaign runs over cannot be removed.
func (db *DB) DeleteGroup(ctx context.Context, tenantID string, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM campaigns WHERE group_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("store: delete group: %w", err)
		}
		if n > 0 {
			return dialer.Conflict(fmt.Sprintf("group %d is used by %d campaign(s); delete them first", id, n))
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE tenant_id = ? AND group_id = ?`, tenantID, id)
		if isForeignKeyViolation(err) {
			return dialer.Conflict(fmt.Sprintf("group %d is still referenced; delete what uses it first", id))
		}
		if err != nil {
			return fmt.Errorf("store: delete group: %w", err)
		}
		return mustAffect(res, "group")
	})
}

// groupMembers walks a group's memberships and fetches each contact; its
// one argument is the group id, bound before those of the WHERE clause.
// CROSS JOIN fixes the loop order: SQLite would otherwise walk the whole
// tenant's contacts looking for the few in a small group.
const groupMembers = ` FROM group_contacts CROSS JOIN contacts ON contacts.contact_id = group_contacts.contact_id`

// EachGroupContact streams one page of a group's contacts to fn, in id
// order. Membership is what counts: a group shows every contact linked to
// it, whoever owns the contact (imports link contacts the tenant already had).
func (db *DB) EachGroupContact(ctx context.Context, tenantID string, groupID int64, q dialer.ListQuery, fn func(dialer.Contact) error) error {
	query, args, err := groupContactsPage(tenantID, groupID, q)
	if err != nil {
		return err
	}
	return db.eachContact(ctx, query, args, fn)
}

// groupContactsPage is the query of one page of a group's contacts.
func groupContactsPage(tenantID string, groupID int64, q dialer.ListQuery) (string, []any, error) {
	page, err := contactList.page(dialer.Scope{TenantID: tenantID}, q)
	if err != nil {
		return "", nil, err
	}
	if !page.narrowed {
		// Cut the page from the membership index alone, then read only its
		// contacts: skipping the offset through the join would look up
		// every skipped contact.
		return `SELECT ` + contactCols + ` FROM (SELECT contact_id FROM group_contacts
			WHERE group_id = ? ORDER BY contact_id LIMIT ? OFFSET ?) AS page
			CROSS JOIN contacts ON contacts.contact_id = page.contact_id
			WHERE contacts.tenant_id = ? ORDER BY page.contact_id`, []any{groupID, page.limit, page.offset, tenantID}, nil
	}
	// Order by the membership's copy of the id, which the loop already
	// follows; ordering by contacts.contact_id would sort the whole group.
	page.order = " ORDER BY group_contacts.contact_id"
	query, args := page.and("group_contacts.group_id = ?", groupID).query(`SELECT ` + contactCols + groupMembers)
	return query, args, nil
}

// exportPage is how many contacts an export reads per query.
const exportPage = 1000

// ExportGroupContacts hands every contact of a group to fn in id order. It
// reads a page at a time and calls fn between reads, so a slow client holds
// neither a connection nor a snapshot of the database.
func (db *DB) ExportGroupContacts(ctx context.Context, tenantID string, groupID int64, fn func(dialer.Contact) error) error {
	page := make([]dialer.Contact, 0, exportPage)
	var after int64
	for {
		page = page[:0]
		err := db.eachContact(ctx, `SELECT `+contactCols+groupMembers+` WHERE group_contacts.group_id = ?
			AND group_contacts.contact_id > ? AND contacts.tenant_id = ? ORDER BY group_contacts.contact_id LIMIT ?`,
			[]any{groupID, after, tenantID, exportPage},
			func(c dialer.Contact) error { page = append(page, c); return nil })
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}
