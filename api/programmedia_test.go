package api

import (
	"context"
	"reflect"
	"testing"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/store"
)

// TestProgramMediaIsWhatTheEngineHandsTheGateway: the media the API checks
// a program's content with is the media the engine will hand the gateway
// (store.EngineStore.ProgramMedia), for every outbound type, so a program
// the check accepted is the program that is dialled.
//
// A voicetts program with a text_id is the exception until store/engine.go
// is patched: ProgramMedia reads a stored text into Media.Text (SMS) only,
// so the gateway is handed an empty TTSText and speaks nothing.
func TestProgramMediaIsWhatTheEngineHandsTheGateway(t *testing.T) {
	w := newWorld(t, withMessages(t))
	es := store.NewEngineStore(w.db)
	t.Cleanup(func() { es.Close() })
	ctx := context.Background()

	id := func(r resp, key string) int64 {
		t.Helper()
		var m map[string]int64
		r.json(t, &m)
		return m[key]
	}
	text := id(w.expect(w.do("POST", "/messages/texts", w.admin, map[string]any{"name": "t", "data": "See you at 10."}), 200), "text_id")
	rec := id(w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": "r"}), 200), "recording_id")
	w.expect(w.do("PUT", idPath("/messages/recordings/%d/media", rec), w.admin, testWAV(8000, 1, 0.2), "Content-Type", "audio/wav"), 200)
	doc := id(w.expect(w.do("POST", "/messages/documents", w.admin, map[string]any{"name": "d"}), 200), "document_id")
	w.expect(w.do("PUT", idPath("/messages/documents/%d/media", doc), w.admin, testTIFF(1), "Content-Type", "image/tiff"), 200)
	tpl := id(w.expect(w.do("POST", "/messages/templates", w.admin, map[string]any{"name": "m", "subject": "Hi", "body": "<p>Hi</p>",
		"body_alt": "Hi"}), 200), "template_id")
	bare := id(w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": "no file"}), 200), "recording_id")

	for _, tc := range []struct {
		name string
		p    dialer.Program
	}{
		{"voicetts inline", dialer.Program{Type: dialer.ProgramVoiceTTS, TTSText: "Hello there.", TTSVoice: "kal", TTSLanguage: "en"}},
		{"voicetts text_id", dialer.Program{Type: dialer.ProgramVoiceTTS, TextID: &text}},
		{"sendsms", dialer.Program{Type: dialer.ProgramSendSMS, TextID: &text}},
		{"voicemessage", dialer.Program{Type: dialer.ProgramVoiceMessage, RecordingID: &rec}},
		{"voicemessage without file", dialer.Program{Type: dialer.ProgramVoiceMessage, RecordingID: &bare}},
		{"sendfax", dialer.Program{Type: dialer.ProgramSendFax, DocumentID: &doc}},
		{"sendemail", dialer.Program{Type: dialer.ProgramSendEmail, TemplateID: &tpl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Name, p.TenantID, p.CreatedBy = "p", w.tenant, w.adminID
			pid, err := w.db.CreateProgram(ctx, dialer.Scope{TenantID: w.tenant}, p)
			if err != nil {
				t.Fatal(err)
			}
			checked, err := w.srv.programMedia(ctx, w.tenant, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, dialled, err := es.ProgramMedia(ctx, w.tenant, pid)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(checked, dialled) {
				t.Errorf("the API checks\n%+v\nthe engine dials\n%+v", checked, dialled)
			}
			if p.Type == dialer.ProgramVoiceTTS && checked.TTSText == "" {
				t.Errorf("voicetts checked with no text: %+v", checked)
			}
		})
	}
}
