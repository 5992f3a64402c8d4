package api

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
)

// TestProgramCallOptions: opt_out_digit, opt_out_recording_id and
// on_machine are validated before anything is written, reach the
// gateway's check in the media the engine would carry, and are read back.
func TestProgramCallOptions(t *testing.T) {
	var checked []dialer.Media
	checker := checkFunc(func(a dialer.Attempt) error {
		if a.Program == "" {
			return nil
		}
		checked = append(checked, a.Media)
		if a.Media.OnMachine == dialer.MachineHangUp {
			return dialer.ContentFault("on_machine", errors.New("this node has no mod_avmd"))
		}
		return nil
	})
	w := newWorld(t, withMessages(t), func(d *Deps) { d.Checker = checker })
	recording := func(name string, seconds float64) int64 {
		var rec struct {
			ID int64 `json:"recording_id"`
		}
		w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": name}), 200).json(t, &rec)
		w.expect(w.do("PUT", idPath("/messages/recordings/%d/media", rec.ID), w.admin, testWAV(8000, 1, seconds), "Content-Type", "audio/wav"), 200)
		return rec.ID
	}
	msg, confirm := recording("message", 0.2), recording("confirm", 0.3)
	before := w.snapshot()
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "opt_out_digit": "12"}, "opt_out_digit"},
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "opt_out_digit": "A"}, "opt_out_digit"},
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "opt_out_recording_id": confirm}, "opt_out_recording_id"},
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "opt_out_digit": "9", "opt_out_recording_id": 999}, "opt_out_recording_id"},
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "on_machine": "detect"}, "on_machine"},
		{"/programs/voicemessage", map[string]any{"name": "p", "recording_id": msg, "on_machine": "hang_up"}, "on_machine"}, // the gateway's refusal
	} {
		w.rejected("POST", tc.path, w.admin, tc.body, 412, tc.field)
	}
	if w.snapshot() != before {
		t.Fatal("a rejected program changed the database")
	}

	checked = nil
	id := w.createProgram(w.admin, "voicemessage", map[string]any{"name": "vm", "recording_id": msg, "opt_out_digit": "#",
		"opt_out_recording_id": confirm, "on_machine": "play_after_beep"})
	if len(checked) == 0 {
		t.Fatal("the gateway was not asked")
	}
	if m := checked[0]; m.OptOutDigit != "#" || m.OnMachine != dialer.MachinePlayAfterBeep || m.OptOutConfirmPath == "" ||
		m.OptOutConfirmPath == m.RecordingPath {
		t.Errorf("checked media %+v", m)
	}
	var got dialer.Program
	w.expect(w.do("GET", idPath("/programs/%d", id), w.admin, nil), 200).json(t, &got)
	if got.OptOutDigit != "#" || got.OptOutRecordingID == nil || *got.OptOutRecordingID != confirm || got.OnMachine != dialer.MachinePlayAfterBeep {
		t.Errorf("read back %+v", got)
	}
	tts := w.createProgram(w.admin, "voicetts", map[string]any{"name": "tts", "text": "hello", "opt_out_digit": "*"})
	got = dialer.Program{}
	w.expect(w.do("GET", idPath("/programs/%d", tts), w.admin, nil), 200).json(t, &got)
	if got.OptOutDigit != "*" || got.OnMachine != "" {
		t.Errorf("voicetts read back %+v", got)
	}
}

// TestProgramOnMachineNeedsAVMD: with the real FreeSWITCH gateway as the
// checker, a voicemessage with on_machine is refused (412 on_machine,
// nothing written) while the tenant's only FreeSWITCH node has no
// mod_avmd, and accepted once a provider on a node with mod_avmd serves
// voice too.
func TestProgramOnMachineNeedsAVMD(t *testing.T) {
	gw := esl.New(esl.Options{DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, CloseTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Close(ctx)
	})
	var checker dialer.AttemptChecker = gw
	w := newWorld(t, withMessages(t), func(d *Deps) { d.Nodes, d.Checker = gw, checker })
	pw := &pbxWorld{world: w, gw: gw}
	connect := func(name string, modules []string) int64 {
		fs := esltest.Start(t, esltest.Options{Password: eslPassword, Modules: modules})
		body := fsBody(fs, true)
		body["name"] = name
		id, _ := pw.create(body)
		pw.waitFor(name, func() bool { return gw.NodeHealth()[strconv.FormatInt(id, 10)] == nil })
		return id
	}
	plain := connect("media-plain", nil)
	w.createProvider(w.admin, map[string]any{"name": "trunk-plain", "host": "sip.example.com", "service_flag": dialer.ServiceVoice,
		"node_id": plain})

	var rec struct {
		ID int64 `json:"recording_id"`
	}
	w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": "m"}), 200).json(t, &rec)
	w.expect(w.do("PUT", idPath("/messages/recordings/%d/media", rec.ID), w.admin, testWAV(8000, 1, 0.2), "Content-Type", "audio/wav"), 200)
	body := map[string]any{"name": "vm", "recording_id": rec.ID, "on_machine": "hang_up"}
	w.rejected("POST", "/programs/voicemessage", w.admin, body, 412, "on_machine")
	// Without on_machine the same program is fine there.
	w.expect(w.do("POST", "/programs/voicemessage", w.admin, map[string]any{"name": "vm0", "recording_id": rec.ID}), 200)

	avmd := connect("media-avmd", []string{"mod_avmd"})
	w.createProvider(w.admin, map[string]any{"name": "trunk-avmd", "host": "sip2.example.com", "service_flag": dialer.ServiceVoice,
		"node_id": avmd})
	w.expect(w.do("POST", "/programs/voicemessage", w.admin, body), 200)
}
