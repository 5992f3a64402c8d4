package store

import (
	"context"
	"errors"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// insertMessage adds a row to a message table (texts, templates, documents,
// recordings) the way the messages API will, and returns its id.
func (w *world) insertMessage(t *testing.T, table, tenant string, createdBy int64) int64 {
	t.Helper()
	res, err := w.db.w.Exec(`INSERT INTO `+table+` (tenant_id, created_by, name, created_at, updated_at) VALUES (?, ?, 'm', 0, 0)`,
		tenant, createdBy)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

func TestProgramReferencesChecked(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	adminText := w.insertMessage(t, "texts", w.tenant, w.admin)
	userText := w.insertMessage(t, "texts", w.tenant, w.user)
	otherText := w.insertMessage(t, "texts", w.other, w.stranger)
	for _, tc := range []struct {
		name  string
		scope dialer.Scope
		text  int64
		ok    bool
	}{
		{"user, own text", w.userScope(), userText, true},
		{"user, admin's text", w.userScope(), adminText, false},
		{"admin, user's text", w.adminScope(), userText, true},
		{"other tenant's text", w.adminScope(), otherText, false},
		{"no such text", w.adminScope(), 999, false},
	} {
		p := dialer.Program{TenantID: tc.scope.TenantID, CreatedBy: w.admin, Name: "sms", Type: dialer.ProgramSendSMS, TextID: &tc.text}
		_, err := w.db.CreateProgram(ctx, tc.scope, p)
		var de *dialer.Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !(errors.As(err, &de) && de.Code == dialer.CodeInvalid && de.Fields["text_id"] != ""):
			t.Errorf("%s: %v, want invalid text_id", tc.name, err)
		}
	}
	list, _ := w.db.Programs(ctx, w.adminScope(), dialer.ListQuery{})
	if len(list) != 2 {
		t.Errorf("%d programs stored, want 2 (rejected ones must leave nothing)", len(list))
	}
}

func TestProgramDeleteRules(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	scope := w.adminScope()
	rec := w.insertMessage(t, "recordings", w.tenant, w.admin)
	parent, err := w.db.CreateProgram(ctx, scope, dialer.Program{TenantID: w.tenant, CreatedBy: w.admin, Name: "parent",
		Type: dialer.ProgramVoiceMessage, RecordingID: &rec})
	if err != nil {
		t.Fatal(err)
	}
	child, err := w.db.CreateProgram(ctx, scope, dialer.Program{TenantID: w.tenant, CreatedBy: w.admin, Name: "child",
		Type: dialer.ProgramVoiceTTS, ParentID: &parent, TTSText: "hi", TTSLanguage: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	// A transmission uses the parent.
	res, err := w.db.w.Exec(`INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) VALUES (?, ?, '+15550001', 0, 0)`, w.tenant, w.admin)
	if err != nil {
		t.Fatal(err)
	}
	contact, _ := res.LastInsertId()
	res, err = w.db.w.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)`,
		w.tenant, w.admin, contact, parent)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := res.LastInsertId()

	if err := w.db.DeleteProgram(ctx, w.userScope(), parent); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("a user deletes the admin's program: %v, want forbidden", err)
	}
	if err := w.db.DeleteProgram(ctx, w.otherScope(), parent); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("another tenant deletes: %v, want not found", err)
	}
	if err := w.db.DeleteProgram(ctx, scope, parent); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("delete a program in use: %v, want conflict", err)
	}
	if _, err := w.db.Program(ctx, scope, parent); err != nil {
		t.Errorf("the refused delete removed the program: %v", err)
	}
	if _, err := w.db.w.Exec(`DELETE FROM transmissions WHERE transmission_id = ?`, tx); err != nil {
		t.Fatal(err)
	}
	if err := w.db.DeleteProgram(ctx, scope, parent); err != nil {
		t.Fatal(err)
	}
	p, err := w.db.Program(ctx, scope, child)
	if err != nil || p.ParentID != nil || p.TTSText != "hi" || p.TTSLanguage != "en-US" {
		t.Errorf("the child after its parent went: %+v, %v", p, err)
	}
	if list, _ := w.db.Programs(ctx, scope, dialer.ListQuery{Filters: map[string]string{"type": "voicetts"}}); len(list) != 1 {
		t.Errorf("filter by type: %+v", list)
	}
}
