package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const contactCols = `contacts.contact_id, contacts.tenant_id, contacts.first_name, contacts.last_name, contacts.phone,
	contacts.email, contacts.address, contacts.custom1, contacts.custom2, contacts.custom3, contacts.description,
	contacts.timezone, contacts.created_by, contacts.created_by_crn, contacts.created_at, contacts.updated_at`

var contactList = listSpec{
	table: "contacts", idCol: "contact_id",
	ownerCond: "contacts.created_by = ?",
	fields: map[string]string{
		"contact_id": "contact_id", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
		"email": "email", "address": "address", "custom1": "custom1", "custom2": "custom2", "custom3": "custom3",
		"description": "description", "timezone": "timezone", "created_by": "created_by",
	},
}

func scanContact(r rowScanner) (dialer.Contact, error) {
	var c dialer.Contact
	err := r.Scan(&c.ID, &c.TenantID, &c.FirstName, &c.LastName, &c.Phone, &c.Email, &c.Address, &c.Custom1,
		&c.Custom2, &c.Custom3, &c.Description, &c.Timezone, &c.CreatedBy, creatorCRN{&c.CreatedByCRN, &c.CreatedBy}, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// phoneTaken fails when another contact of the tenant has phone: a tenant
// keeps one contact per number, so campaigns never call anyone twice.
func phoneTaken(ctx context.Context, tx *sql.Tx, tenantID, phone string, except int64) error {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT contact_id FROM contacts WHERE tenant_id = ? AND phone = ? AND contact_id != ?
		ORDER BY contact_id LIMIT 1`, tenantID, phone, except).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: find phone: %w", err)
	}
	return dialer.Conflict(fmt.Sprintf("contact %d already has phone %s", id, phone))
}

// CreateContact stores a validated contact; TenantID and CreatedBy must be
// set. A phone number the tenant already has is a conflict.
func (db *DB) CreateContact(ctx context.Context, c dialer.Contact) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := phoneTaken(ctx, tx, c.TenantID, c.Phone, 0); err != nil {
			return err
		}
		now := time.Now().Unix()
		res, err := tx.ExecContext(ctx, insertContactSQL, contactArgs(c, now)...)
		if err != nil {
			return fmt.Errorf("store: insert contact: %w", err)
		}
		id, err = res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: insert contact: %w", err)
		}
		return nil
	})
	return id, err
}

const insertContactSQL = `INSERT INTO contacts (tenant_id, created_by, created_by_crn, first_name, last_name, phone, email, address,
	custom1, custom2, custom3, description, timezone, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func contactArgs(c dialer.Contact, now int64) []any {
	return []any{c.TenantID, c.CreatedBy, c.CreatedByCRN, c.FirstName, c.LastName, c.Phone, c.Email, c.Address,
		c.Custom1, c.Custom2, c.Custom3, c.Description, c.Timezone, now, now}
}

// Contact returns a contact of the tenant.
func (db *DB) Contact(ctx context.Context, tenantID string, id int64) (dialer.Contact, error) {
	c, err := scanContact(db.r.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts
		WHERE tenant_id = ? AND contact_id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, dialer.NotFound("contact")
	}
	if err != nil {
		return c, fmt.Errorf("store: contact %d: %w", id, err)
	}
	return c, nil
}

// EachContact streams one page of the contacts in scope to fn, in id order.
func (db *DB) EachContact(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.Contact) error) error {
	page, err := contactList.page(scope, q)
	if err != nil {
		return err
	}
	query, args := page.query(`SELECT ` + contactCols + ` FROM contacts`)
	return db.eachContact(ctx, query, args, fn)
}

// eachContact runs a contact query and hands each row to fn. fn must not
// query the store: the rows hold a reader connection until the end.
func (db *DB) eachContact(ctx context.Context, query string, args []any, fn func(dialer.Contact) error) error {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: list contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return fmt.Errorf("store: list contacts: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list contacts: %w", err)
	}
	return nil
}

// UpdateContact saves the client-settable fields of a validated contact.
func (db *DB) UpdateContact(ctx context.Context, c dialer.Contact) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := phoneTaken(ctx, tx, c.TenantID, c.Phone, c.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE contacts SET first_name = ?, last_name = ?, phone = ?, email = ?,
			address = ?, custom1 = ?, custom2 = ?, custom3 = ?, description = ?, timezone = ?, updated_at = ?
			WHERE tenant_id = ? AND contact_id = ?`,
			c.FirstName, c.LastName, c.Phone, c.Email, c.Address, c.Custom1, c.Custom2, c.Custom3, c.Description,
			c.Timezone, time.Now().Unix(), c.TenantID, c.ID)
		if err != nil {
			return fmt.Errorf("store: update contact: %w", err)
		}
		return mustAffect(res, "contact")
	})
}

// DeleteContact removes a contact and its group memberships. A contact that
// a transmission refers to stays: its history would lose its subject.
func (db *DB) DeleteContact(ctx context.Context, tenantID string, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM transmissions WHERE contact_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("store: delete contact: %w", err)
		}
		if n > 0 {
			return dialer.Conflict(fmt.Sprintf("contact %d is used by %d transmission(s); delete them first", id, n))
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND contact_id = ?`, tenantID, id)
		if isForeignKeyViolation(err) {
			return dialer.Conflict(fmt.Sprintf("contact %d is still referenced; delete what uses it first", id))
		}
		if err != nil {
			return fmt.Errorf("store: delete contact: %w", err)
		}
		return mustAffect(res, "contact")
	})
}

// LinkContact adds a contact to a group (linked=true) or removes it. Both
// are idempotent; both must exist in the tenant.
func (db *DB) LinkContact(ctx context.Context, tenantID string, contactID, groupID int64, linked bool) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, check := range []struct{ kind, sql string }{
			{"contact", `SELECT COUNT(*) FROM contacts WHERE tenant_id = ? AND contact_id = ?`},
			{"group", `SELECT COUNT(*) FROM groups WHERE tenant_id = ? AND group_id = ?`},
		} {
			id := contactID
			if check.kind == "group" {
				id = groupID
			}
			var n int
			if err := tx.QueryRowContext(ctx, check.sql, tenantID, id).Scan(&n); err != nil {
				return fmt.Errorf("store: link contact: %w", err)
			}
			if n == 0 {
				return dialer.NotFound(check.kind)
			}
		}
		var err error
		if linked {
			_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_contacts (tenant_id, group_id, contact_id) VALUES (?, ?, ?)`,
				tenantID, groupID, contactID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM group_contacts WHERE group_id = ? AND contact_id = ?`, groupID, contactID)
		}
		if err != nil {
			return fmt.Errorf("store: link contact: %w", err)
		}
		return nil
	})
}

// Import batches: a transaction commits every importBatchRows rows, or
// sooner when the batch holds importBatchBytes of text, so that memory stays
// bounded whatever the rows carry. Rows are read before the transaction
// begins: a slow upload never holds the one writer.
const (
	importBatchRows  = 50000
	importBatchBytes = 16 << 20
)

// ImportContacts reads rows and puts each valid one into the group: a new
// contact of the tenant created by a, or — when the tenant already has a
// contact with that phone number — that contact, linked rather than
// duplicated (its fields are left as they are). Rejected rows are counted
// and their errors listed in the result. The counts are disjoint: a row is
// Imported (it created a contact), Existing (it matched one, made by an
// earlier row of the same file or before) or Failed.
//
// Without atomic, rows commit in batches as they come; an error from rows
// ends the import with the rows read before it committed, and the result
// says how many. With atomic, everything happens in one transaction: if any
// row is rejected, or rows fail, nothing is written and Imported is 0.
func (db *DB) ImportContacts(ctx context.Context, a dialer.Actor, groupID int64, rows dialer.ContactRows, atomic bool) (dialer.ImportResult, error) {
	return db.ImportContactsWithin(ctx, a, groupID, rows, atomic, 0)
}

// ImportContactsWithin is ImportContacts under a plan's contacts limit
// (maxContacts > 0): a row that would create the tenant's contact number
// maxContacts+1 is rejected (a row error on its line, counted in
// OverLimit) and writes nothing; rows matching an existing contact still
// link. The room is counted inside each write transaction, so concurrent
// imports cannot together pass the limit. With atomic, one such row
// rejects the whole import like any invalid row.
func (db *DB) ImportContactsWithin(ctx context.Context, a dialer.Actor, groupID int64, rows dialer.ContactRows, atomic bool, maxContacts int) (dialer.ImportResult, error) {
	restore, err := db.importPragmas(ctx)
	if err != nil {
		return dialer.ImportResult{}, err
	}
	defer restore()
	if atomic {
		return db.importAtomic(ctx, a, groupID, rows, maxContacts)
	}
	var res dialer.ImportResult
	batch := make([]dialer.Contact, 0, importBatchRows)
	lines := make([]int, 0, importBatchRows)
	for {
		// Rows are read before the transaction begins: a slow upload never
		// holds the one writer. A rejected row weighs in the batch like a
		// valid one, so a file of errors cannot grow one without end.
		clear(batch)
		batch, lines = batch[:0], lines[:0]
		size, n := 0, 0
		var readErr error
		for n < importBatchRows && size < importBatchBytes {
			row, err := rows.Next()
			if err != nil {
				readErr = err
				break
			}
			n++
			if len(row.Errors) > 0 {
				res.Reject(row.Errors)
				size += 64
				continue
			}
			batch = append(batch, row.Contact)
			lines = append(lines, row.Line)
			size += contactSize(row.Contact)
		}
		if len(batch) > 0 {
			var existing int
			var over []int
			err := db.bulkTx(ctx, func(tx *sql.Tx) error {
				ins, err := newContactInserter(ctx, tx, a, groupID, maxContacts)
				if err != nil {
					return err
				}
				defer ins.close()
				existing, over, err = ins.add(ctx, batch, lines)
				return err
			})
			if err != nil {
				return res, err
			}
			res.Imported += len(batch) - existing - len(over)
			res.Existing += existing
			res.RejectOverLimit(over, maxContacts)
		}
		if errors.Is(readErr, io.EOF) {
			return res, nil
		}
		if readErr != nil {
			return res, readErr
		}
	}
}

// bulkTx is tx for bulk loads whose every reference was checked inside the
// transaction before use (the tenant is the actor's, the group was looked
// up, contact ids come from the same transaction): foreign key checks are
// off for it, since they cost an index search per reference per row. The
// connection goes back to the pool with them on, or not at all.
func (db *DB) bulkTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: bulk: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return fmt.Errorf("store: bulk: %w", err)
	}
	defer func() {
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard it
			err = errors.Join(err, fmt.Errorf("store: bulk: restore foreign keys: %w", ferr))
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: bulk: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: bulk: commit: %w", err)
	}
	return nil
}

// importPragmas tunes the writer connection for a bulk import and returns
// what puts it back:
//   - a larger page cache keeps the phone index in memory while rows land
//     all over it;
//   - rarer checkpoints: each commit rewrites the phone index pages it
//     touched into the WAL, and a checkpoint per commit would copy them
//     into the database file every time, where one copy per 64 MiB of WAL
//     does. The writer checkpoints automatically during the import, and
//     the background checkpoints pause.
//
// It puts back the values Open sets, rather than the values it found: with
// two imports at once, the second would find the first's.
func (db *DB) importPragmas(ctx context.Context) (restore func(), err error) {
	// Names and integers from here, not input.
	set := func(ctx context.Context, cache, checkpoint int64) error {
		_, err := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = %d", cache))
		if err == nil {
			_, err = db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", checkpoint))
		}
		if err != nil {
			return fmt.Errorf("store: import: %w", err)
		}
		return nil
	}
	db.bulk.Add(1)
	if err := set(ctx, -importCacheKiB, importCheckpointPages); err != nil {
		_ = set(context.WithoutCancel(ctx), sqliteDefaultCacheSize, writerAutoCheckpoint)
		db.bulk.Add(-1)
		return nil, err
	}
	return func() {
		_ = set(context.WithoutCancel(ctx), sqliteDefaultCacheSize, writerAutoCheckpoint)
		db.bulk.Add(-1)
	}, nil
}

// What the writer runs with outside imports: SQLite's default page cache,
// and no automatic checkpoint (DB.checkpoints does them).
const (
	sqliteDefaultCacheSize = -2000 // KiB
	writerAutoCheckpoint   = 0     // pages; 0 is off
)

// Import tuning: the writer's page cache (the driver's allocator roughly
// doubles it in resident memory) and WAL pages between checkpoints.
const (
	importCacheKiB        = 32 << 10
	importCheckpointPages = 16 << 10
)

// errRejected rolls back an atomic import that met a rejected row.
var errRejected = errors.New("import rejected")

func (db *DB) importAtomic(ctx context.Context, a dialer.Actor, groupID int64, rows dialer.ContactRows, maxContacts int) (dialer.ImportResult, error) {
	var res dialer.ImportResult
	err := db.bulkTx(ctx, func(tx *sql.Tx) error {
		ins, err := newContactInserter(ctx, tx, a, groupID, maxContacts)
		if err != nil {
			return err
		}
		defer ins.close()
		batch := make([]dialer.Contact, 0, importBatchRows)
		lines := make([]int, 0, importBatchRows)
		size := 0
		flush := func() error {
			existing, over, err := ins.add(ctx, batch, lines)
			res.Imported += len(batch) - existing - len(over)
			res.Existing += existing
			res.RejectOverLimit(over, maxContacts)
			batch, lines, size = batch[:0], lines[:0], 0
			return err
		}
		for {
			row, err := rows.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if len(row.Errors) > 0 {
				res.Reject(row.Errors)
				batch, lines = batch[:0], lines[:0] // the import is lost already; only look for more errors
				continue
			}
			if res.Failed > 0 {
				continue
			}
			batch = append(batch, row.Contact)
			lines = append(lines, row.Line)
			if size += contactSize(row.Contact); len(batch) >= importBatchRows || size >= importBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if res.Failed > 0 {
			return errRejected
		}
		if err := flush(); err != nil {
			return err
		}
		if res.Failed > 0 { // rows beyond the plan's limit
			return errRejected
		}
		return nil
	})
	if errors.Is(err, errRejected) {
		res.Imported, res.Existing = 0, 0
		return res, nil
	}
	if err != nil {
		res.Imported, res.Existing = 0, 0
	}
	return res, err
}

func contactSize(c dialer.Contact) int {
	return len(c.FirstName) + len(c.LastName) + len(c.Phone) + len(c.Email) + len(c.Address) + len(c.Custom1) +
		len(c.Custom2) + len(c.Custom3) + len(c.Description) + len(c.Timezone) + 64
}

// importChunkRows is how many contacts one multi-row statement carries; with
// 10 bound values a row it stays far below SQLite's 32766 variables.
const importChunkRows = 500

// contactInserter puts contacts into one group inside one transaction. It
// works a chunk at a time with multi-row statements, prepared once per
// chunk size: a statement per row would spend more time in database/sql
// than in SQLite.
type contactInserter struct {
	tx      *sql.Tx
	a       dialer.Actor
	groupID int64
	now     int64
	stmts   map[string]*sql.Stmt
	// room is how many more contacts the plan lets the tenant have; < 0
	// is no limit.
	room int
}

func newContactInserter(ctx context.Context, tx *sql.Tx, a dialer.Actor, groupID int64, maxContacts int) (*contactInserter, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM groups WHERE tenant_id = ? AND group_id = ?`, a.TenantID, groupID).Scan(&n); err != nil {
		return nil, fmt.Errorf("store: import: %w", err)
	}
	if n == 0 {
		return nil, dialer.NotFound("group")
	}
	room := -1
	if maxContacts > 0 {
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, a.TenantID).Scan(&have); err != nil {
			return nil, fmt.Errorf("store: import: count contacts: %w", err)
		}
		room = max(maxContacts-have, 0)
	}
	return &contactInserter{tx: tx, a: a, groupID: groupID, now: time.Now().Unix(), stmts: map[string]*sql.Stmt{}, room: room}, nil
}

func (ins *contactInserter) close() {
	for _, st := range ins.stmts {
		st.Close()
	}
}

// stmt prepares (once) the statement named kind for n rows. The SQL holds
// placeholders only: no input ever becomes statement text.
func (ins *contactInserter) stmt(ctx context.Context, kind string, n int) (*sql.Stmt, error) {
	key := kind + "/" + strconv.Itoa(n)
	if st, ok := ins.stmts[key]; ok {
		return st, nil
	}
	var b strings.Builder
	// Plain "?" only: the driver looks every numbered parameter's name up
	// in a list, which makes "?NNN" quadratic in a 500-row statement.
	rowsOf := func(row string) {
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(row)
		}
	}
	switch kind {
	case "find":
		// No ORDER BY: it would make SQLite walk the tenant's contacts in id order.
		b.WriteString(`SELECT phone, contact_id FROM contacts WHERE tenant_id = ? AND phone IN (`)
		rowsOf("?")
		b.WriteString(`)`)
	case "insert":
		// The values common to every row are bound once, in the SELECT.
		// OR IGNORE: with nothing that can abort it, SQLite keeps no
		// statement journal; a row it would skip is caught in addChunk.
		b.WriteString(`INSERT OR IGNORE INTO contacts (tenant_id, created_by, created_by_crn, created_at, updated_at, first_name, last_name, phone,
			email, address, custom1, custom2, custom3, description, timezone)
			SELECT ?, ?, ?, ?, ?, column1, column2, column3, column4, column5, column6, column7, column8, column9, column10
			FROM (VALUES `)
		rowsOf("(?,?,?,?,?,?,?,?,?,?)")
		b.WriteString(`) RETURNING phone, contact_id`)
	case "link":
		b.WriteString(`INSERT OR IGNORE INTO group_contacts (tenant_id, group_id, contact_id)
			SELECT ?, ?, column1 FROM (VALUES `)
		rowsOf("(?)")
		b.WriteString(`)`)
	}
	st, err := ins.tx.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("store: import: prepare %s: %w", kind, err)
	}
	ins.stmts[key] = st
	return st, nil
}

// add puts cs (read from lines) into the group. A phone number the tenant
// has already, or that an earlier row of cs carries, reuses that contact;
// existing counts those rows. over lists the lines of rows that would
// have created a contact beyond the plan's limit: nothing of them is
// written.
func (ins *contactInserter) add(ctx context.Context, cs []dialer.Contact, lines []int) (existing int, over []int, err error) {
	for len(cs) > 0 {
		n := min(len(cs), importChunkRows)
		e, o, err := ins.addChunk(ctx, cs[:n], lines[:n])
		if err != nil {
			return existing, over, err
		}
		existing += e
		over = append(over, o...)
		cs, lines = cs[n:], lines[n:]
	}
	return existing, over, nil
}

// refusedID marks, in addChunk's ids, a number whose new contact the
// plan's limit refused.
const refusedID = -2

func (ins *contactInserter) addChunk(ctx context.Context, cs []dialer.Contact, lines []int) (existing int, over []int, err error) {
	ids := make(map[string]int64, len(cs))
	phones := make([]any, 0, len(cs)+1)
	phones = append(phones, ins.a.TenantID)
	for _, c := range cs {
		if _, dup := ids[c.Phone]; !dup {
			ids[c.Phone] = 0
			phones = append(phones, c.Phone)
		}
	}
	// Pad to the chunk size, so one prepared statement serves every full
	// chunk: repeating a number in IN (…) changes nothing.
	if len(cs) == importChunkRows {
		for len(phones) < importChunkRows+1 {
			phones = append(phones, phones[1])
		}
	}
	find, err := ins.stmt(ctx, "find", len(phones)-1)
	if err != nil {
		return 0, nil, err
	}
	if err := scanPhoneIDs(ctx, find, phones, ids, false); err != nil {
		return 0, nil, err
	}

	args := make([]any, 0, 4+10*len(cs))
	args = append(args, ins.a.TenantID, ins.a.UserID, ins.a.CRN(), ins.now, ins.now)
	created := 0
	for i, c := range cs {
		if ids[c.Phone] == refusedID {
			over = append(over, lines[i])
			continue
		}
		if ids[c.Phone] != 0 {
			continue
		}
		if ins.room == 0 {
			ids[c.Phone] = refusedID
			over = append(over, lines[i])
			continue
		}
		ids[c.Phone] = -1 // the first row of a number creates the contact
		if ins.room > 0 {
			ins.room--
		}
		args = append(args, c.FirstName, c.LastName, c.Phone, c.Email, c.Address, c.Custom1, c.Custom2, c.Custom3,
			c.Description, c.Timezone)
		created++
	}
	if created > 0 {
		insert, err := ins.stmt(ctx, "insert", created)
		if err != nil {
			return 0, nil, err
		}
		if err := scanPhoneIDs(ctx, insert, args, ids, true); err != nil {
			return 0, nil, err
		}
		for phone, id := range ids {
			if id <= 0 && id != refusedID {
				return 0, nil, fmt.Errorf("store: import: the contact with phone %s was not inserted", phone)
			}
		}
	}

	// Pad as above; linking twice is ignored.
	link := make([]any, 0, 2+importChunkRows)
	link = append(link, ins.a.TenantID, ins.groupID)
	for _, id := range ids {
		if id > 0 {
			link = append(link, id)
		}
	}
	if len(link) == 2 {
		return len(cs) - created - len(over), over, nil
	}
	for len(cs) == importChunkRows && len(link) < 2+importChunkRows {
		link = append(link, link[2])
	}
	st, err := ins.stmt(ctx, "link", len(link)-2)
	if err != nil {
		return 0, nil, err
	}
	if _, err := st.ExecContext(ctx, link...); err != nil {
		return 0, nil, fmt.Errorf("store: import link: %w", err)
	}
	return len(cs) - created - len(over), over, nil
}

// scanPhoneIDs runs st and records each (phone, contact_id) row in ids: the
// lowest id of a phone when looking up, every row when inserting.
func scanPhoneIDs(ctx context.Context, st *sql.Stmt, args []any, ids map[string]int64, inserting bool) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("store: import contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var phone string
		var id int64
		if err := rows.Scan(&phone, &id); err != nil {
			return fmt.Errorf("store: import contacts: %w", err)
		}
		if old := ids[phone]; inserting || old == 0 || id < old {
			ids[phone] = id
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: import contacts: %w", err)
	}
	return nil
}
