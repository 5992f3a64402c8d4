package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const programCols = `programs.program_id, programs.tenant_id, programs.created_by, programs.created_by_crn, programs.name, programs.type,
	programs.parent_id, programs.account_id, programs.document_id, programs.recording_id, programs.template_id,
	programs.text_id, programs.tts_text, programs.tts_voice, programs.tts_language, programs.opt_out_digit,
	programs.opt_out_recording_id, programs.on_machine, programs.created_at, programs.updated_at`

var programList = listSpec{
	table: "programs", idCol: "program_id",
	ownerCond: "programs.created_by = ?",
	fields: map[string]string{
		"program_id": "program_id", "name": "name", "type": "type", "parent_id": "parent_id",
		"account_id": "account_id", "document_id": "document_id", "recording_id": "recording_id",
		"template_id": "template_id", "text_id": "text_id", "text": "tts_text", "voice": "tts_voice",
		"language": "tts_language", "created_by": "created_by", "opt_out_digit": "opt_out_digit",
		"opt_out_recording_id": "opt_out_recording_id", "on_machine": "on_machine",
	},
}

// programTarget is a resource a program may point at: its table, id
// column and the word for it in messages. Only these names reach SQL.
type programTarget struct{ table, idCol, kind string }

// programTargets maps a program's reference field to what it names.
func programTargets() map[string]programTarget {
	return map[string]programTarget{
		"parent_id":    {"programs", "program_id", "program"},
		"account_id":   {"accounts", "account_id", "account"},
		"document_id":  {"documents", "document_id", "document"},
		"recording_id": {"recordings", "recording_id", "recording"},
		"template_id":  {"templates", "template_id", "template"},
		"text_id":      {"texts", "text_id", "text"},

		"opt_out_recording_id": {"recordings", "recording_id", "recording"},
	}
}

// owned reports whether a row created by createdBy is visible in scope.
func owned(scope dialer.Scope, createdBy int64) bool {
	return scope.OwnerID == 0 || scope.OwnerID == createdBy
}

func nullID(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func idPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

func scanProgram(r rowScanner) (dialer.Program, error) {
	var p dialer.Program
	var parent, account, document, recording, template, text, optOutRecording sql.NullInt64
	err := r.Scan(&p.ID, &p.TenantID, &p.CreatedBy, creatorCRN{&p.CreatedByCRN, &p.CreatedBy}, &p.Name, &p.Type, &parent, &account, &document, &recording,
		&template, &text, &p.TTSText, &p.TTSVoice, &p.TTSLanguage, &p.OptOutDigit, &optOutRecording, &p.OnMachine,
		&p.CreatedAt, &p.UpdatedAt)
	p.ParentID, p.AccountID, p.DocumentID = idPtr(parent), idPtr(account), idPtr(document)
	p.RecordingID, p.TemplateID, p.TextID = idPtr(recording), idPtr(template), idPtr(text)
	p.OptOutRecordingID = idPtr(optOutRecording)
	return p, err
}

// checkProgramRefs verifies, inside the writing transaction, that every
// resource p points at exists in its tenant and is visible in scope. A
// reference that fails is a validation error on its field: the caller
// cannot tell another user's resource from a missing one.
func checkProgramRefs(ctx context.Context, q querier, scope dialer.Scope, p *dialer.Program) error {
	var v dialer.Invalid
	targets := programTargets()
	refs := p.References()
	for _, field := range slices.Sorted(maps.Keys(refs)) {
		t := targets[field]
		var createdBy int64
		var assigned sql.NullInt64
		query := `SELECT created_by, NULL FROM ` + t.table + ` WHERE tenant_id = ? AND ` + t.idCol + ` = ?`
		if t.table == "accounts" {
			query = `SELECT created_by, user_id FROM accounts WHERE tenant_id = ? AND account_id = ?`
		}
		err := q.QueryRowContext(ctx, query, scope.TenantID, refs[field]).Scan(&createdBy, &assigned)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			v.Add(field, "no such "+t.kind+" of yours")
			continue
		case err != nil:
			return fmt.Errorf("store: check %s: %w", field, err)
		}
		visible := owned(scope, createdBy)
		if t.table == "accounts" {
			a := dialer.Account{CreatedBy: createdBy, UserID: idPtr(assigned)}
			visible = a.VisibleIn(scope)
		}
		if !visible {
			v.Add(field, "no such "+t.kind+" of yours")
		}
	}
	return v.Err()
}

// CreateProgram stores a validated program after checking, in the same
// transaction, that what it points at exists and is visible in scope.
// p.TenantID and p.CreatedBy must be set.
func (db *DB) CreateProgram(ctx context.Context, scope dialer.Scope, p dialer.Program) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkProgramRefs(ctx, tx, scope, &p); err != nil {
			return err
		}
		now := time.Now().Unix()
		var err error
		id, err = insertRow(ctx, tx, "program", `INSERT INTO programs (tenant_id, created_by, created_by_crn, name, type, parent_id, account_id,
			document_id, recording_id, template_id, text_id, tts_text, tts_voice, tts_language, opt_out_digit,
			opt_out_recording_id, on_machine, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.TenantID, p.CreatedBy, p.CreatedByCRN, p.Name, string(p.Type), nullID(p.ParentID), nullID(p.AccountID), nullID(p.DocumentID),
			nullID(p.RecordingID), nullID(p.TemplateID), nullID(p.TextID), p.TTSText, p.TTSVoice, p.TTSLanguage,
			p.OptOutDigit, nullID(p.OptOutRecordingID), string(p.OnMachine), now, now)
		return err
	})
	return id, err
}

// Program returns a program of scope's tenant: not found in another tenant,
// forbidden when scope is a user's and another user created it.
func (db *DB) Program(ctx context.Context, scope dialer.Scope, id int64) (dialer.Program, error) {
	p, err := getRow(ctx, db.r, "program", "programs", "program_id", programCols, scope.TenantID, id, scanProgram)
	if err != nil {
		return p, err
	}
	if !owned(scope, p.CreatedBy) {
		return dialer.Program{}, dialer.Forbidden("this program belongs to someone else")
	}
	return p, nil
}

// Programs lists the programs in scope.
func (db *DB) Programs(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Program, error) {
	return list(ctx, db, programList, programCols, scope, q, scanProgram)
}

// DeleteProgram removes a program visible in scope. A program a
// transmission or campaign uses cannot go: that is a conflict. Accounts'
// subscriptions to it go with it; its children lose their parent.
func (db *DB) DeleteProgram(ctx context.Context, scope dialer.Scope, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var createdBy int64
		err := tx.QueryRowContext(ctx, `SELECT created_by FROM programs WHERE tenant_id = ? AND program_id = ?`,
			scope.TenantID, id).Scan(&createdBy)
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound("program")
		}
		if err != nil {
			return fmt.Errorf("store: delete program: %w", err)
		}
		if !owned(scope, createdBy) {
			return dialer.Forbidden("this program belongs to someone else")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM programs WHERE tenant_id = ? AND program_id = ?`, scope.TenantID, id)
		if isForeignKeyViolation(err) {
			return &dialer.Error{Code: dialer.CodeConflict, Message: "the program is used by a transmission or campaign", Err: err}
		}
		if err != nil {
			return fmt.Errorf("store: delete program: %w", err)
		}
		return nil
	})
}

// joinIDs parses a group_concat of ids into a sorted slice, never nil.
func joinIDs(s sql.NullString) ([]int64, error) {
	ids := []int64{}
	if !s.Valid || s.String == "" {
		return ids, nil
	}
	for part := range strings.SplitSeq(s.String, ",") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: id list %q: %w", s.String, err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}
