package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// The opt-out key, its confirmation and the on_machine policy are stored
// with the program, read back, and handed to the engine in its Media: the
// confirmation as the path of the recording's telephony WAV.
func TestProgramCallOptions(t *testing.T) {
	e := openMediaEnv(t, t.TempDir())
	ctx := context.Background()
	msg := e.mp3Recording(t, "ID3 the message")
	confirm := e.mp3Recording(t, "ID3 you will not be called again")
	scope := dialer.Scope{TenantID: e.tenant}
	id, err := e.db.CreateProgram(ctx, scope, dialer.Program{TenantID: e.tenant, CreatedBy: 1, Name: "vm",
		Type: dialer.ProgramVoiceMessage, RecordingID: &msg, OptOutDigit: "9", OptOutRecordingID: &confirm,
		OnMachine: dialer.MachinePlayAfterBeep})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.db.Program(ctx, scope, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.OptOutDigit != "9" || p.OptOutRecordingID == nil || *p.OptOutRecordingID != confirm || p.OnMachine != dialer.MachinePlayAfterBeep {
		t.Fatalf("read back %+v", p)
	}
	m := e.programMedia(t, id)
	r, _ := e.m.Recording(ctx, e.tenant, confirm)
	if want := filepath.Join(e.media, r.TelephonyHash[:2], r.TelephonyHash+".wav"); m.OptOutConfirmPath != want {
		t.Errorf("OptOutConfirmPath %q, want %q", m.OptOutConfirmPath, want)
	}
	if m.OptOutDigit != "9" || m.OnMachine != dialer.MachinePlayAfterBeep || m.RecordingPath == "" || m.RecordingPath == m.OptOutConfirmPath {
		t.Errorf("media %+v", m)
	}

	// Without options: none in the media.
	plain := e.program(t, "voicemessage", "recording_id", msg)
	if m := e.programMedia(t, plain); m.OptOutDigit != "" || m.OptOutConfirmPath != "" || m.OnMachine != "" {
		t.Errorf("plain program's media %+v", m)
	}

	// The confirmation must be the tenant's: another tenant's recording is
	// refused like a missing one, and nothing is written.
	other, err := e.db.CreateTenant(ctx, "other", "org")
	if err != nil {
		t.Skipf("no second tenant in this fixture: %v", err)
	}
	foreign := (&world{db: e.db}).insertMessage(t, "recordings", other.ID, 1)
	_, err = e.db.CreateProgram(ctx, scope, dialer.Program{TenantID: e.tenant, CreatedBy: 1, Name: "vm2",
		Type: dialer.ProgramVoiceMessage, RecordingID: &msg, OptOutDigit: "9", OptOutRecordingID: &foreign})
	var de *dialer.Error
	if !errors.As(err, &de) || de.Fields["opt_out_recording_id"] == "" {
		t.Errorf("another tenant's confirmation: %v, want invalid opt_out_recording_id", err)
	}
	// A recording a program confirms with cannot be deleted.
	if _, err := e.db.w.Exec(`DELETE FROM recordings WHERE recording_id = ?`, confirm); err == nil {
		t.Error("the confirmation recording was deleted while a program uses it")
	}
}
