package api

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/store"
)

// checkFunc is a checker made of a function.
type checkFunc func(dialer.Attempt) error

func (f checkFunc) CheckAttempt(a dialer.Attempt) error { return f(a) }

// withMessages serves the message routes over the world's own store.
func withMessages(t *testing.T) func(*Deps) {
	return func(d *Deps) {
		db := d.PBX.(*store.DB)
		files, err := store.OpenFiles(filepath.Join(filepath.Dir(db.Path()), "media"))
		if err != nil {
			t.Fatal(err)
		}
		d.Messages = store.NewMessages(db, files)
	}
}

// TestProgramVoiceTTSCheckedByFreeSWITCH: a voicetts text the FreeSWITCH
// gateway cannot speak is refused when the program is created (412 naming
// text, or text_id for a stored text), and so is a change to a stored text
// that a voicetts program speaks; nothing is written. Before: accepted, and
// each call failed as the provider's fault. The checker is the real
// esl.Gateway with a node on the fake FreeSWITCH.
func TestProgramVoiceTTSCheckedByFreeSWITCH(t *testing.T) {
	gw := esl.New(esl.Options{DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, CloseTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Close(ctx)
	})
	var checker dialer.AttemptChecker = gw
	fs := esltest.Start(t, esltest.Options{Password: eslPassword})
	w := newWorld(t, withMessages(t), func(d *Deps) { d.Nodes, d.Checker = gw, checker })
	pw := &pbxWorld{world: w, gw: gw}
	nodeID, _ := pw.create(fsBody(fs, true))
	pw.waitFor("the node", func() bool { return gw.NodeHealth()[strconv.FormatInt(nodeID, 10)] == nil })
	w.createProvider(w.admin, map[string]any{"name": "trunk-1", "host": "sip.example.com", "service_flag": dialer.ServiceVoice,
		"node_id": nodeID})

	for _, text := range []string{"Press 1, then 2 = done.", "${x}", "a|b"} {
		w.rejected("POST", "/programs/voicetts", w.admin, map[string]any{"name": "bad", "text": text}, 412, "text")
	}
	w.expect(w.do("POST", "/programs/voicetts", w.admin, map[string]any{"name": "good", "text": "Press 1, then 2. Thank you!"}), 200)

	// A stored text is checked as what the program will speak.
	bad := createText(w, "a|b")
	w.rejected("POST", "/programs/voicetts", w.admin, map[string]any{"name": "bad-ref", "text_id": bad}, 412, "text_id")
	good := createText(w, "Your appointment is tomorrow at 10.")
	w.expect(w.do("POST", "/programs/voicetts", w.admin, map[string]any{"name": "good-ref", "text_id": good}), 200)
	// ... and so is a change to a text that a voicetts program speaks.
	w.rejected("PUT", idPath("/messages/texts/%d", good), w.admin, map[string]any{"data": "${x}"}, 412, "data")
	w.expect(w.do("PUT", idPath("/messages/texts/%d", good), w.admin, map[string]any{"data": "See you tomorrow."}), 200)
}

func createText(w *world, data string) int64 {
	w.t.Helper()
	var out struct {
		ID int64 `json:"text_id"`
	}
	w.expect(w.do("POST", "/messages/texts", w.admin, map[string]any{"name": "t", "data": data}), 200).json(w.t, &out)
	return out.ID
}

// TestProgramCheckedByTheGatewaysThatWouldCarryIt is the rule of the
// program check: the gateways of the tenant's active providers that serve
// the program's service are asked, one acceptance is enough, only refusals
// of the content count, and with no such provider FreeSWITCH is asked.
func TestProgramCheckedByTheGatewaysThatWouldCarryIt(t *testing.T) {
	var asked []int64 // the gateway_flag of each check
	checker := checkFunc(func(a dialer.Attempt) error {
		if a.Program == "" {
			return nil // a provider's check
		}
		asked = append(asked, a.Provider.Gateway)
		switch {
		case a.Provider.Gateway == dialer.GatewaySIP && a.Program == dialer.ProgramVoiceTTS:
			return dialer.ContentFault("program", errors.New("the SIP gateway does not speak"))
		case a.Provider.Gateway == dialer.GatewayFreeSWITCH && strings.Contains(a.Media.TTSText, "|"):
			return dialer.ContentFault("text", errors.New("no | in a text to speak"))
		case a.Provider.Gateway == dialer.GatewayFreeSWITCH && a.Provider.Name == "broken":
			return dialer.ContentFault("dialstring", errors.New("the provider's own defect"))
		case a.Provider.Gateway == dialer.GatewayFreeSWITCH && strings.Contains(a.Media.TTSText, "phone"):
			// A refusal of the check's own stand-ins is not the program's.
			return dialer.ContentFault("phone", errors.New("not a number this gateway dials"))
		case a.Program == dialer.ProgramVoiceMessage && a.Media.RecordingPath == "":
			return dialer.ContentFault("recording_id", errors.New("the recording has no file"))
		}
		return nil
	})
	w := newWorld(t, withMessages(t), func(d *Deps) { d.Checker = checker })
	tts := func(text string) map[string]any { return map[string]any{"name": "p", "text": text} }

	// What the gateway says of the check's stand-in number is not the program's.
	w.expect(w.do("POST", "/programs/voicetts", w.admin, tts("Say phone.")), 200)
	asked = nil

	// No provider serves voice: FreeSWITCH is asked.
	w.rejected("POST", "/programs/voicetts", w.admin, tts("a|b"), 412, "text")
	if len(asked) != 1 || asked[0] != dialer.GatewayFreeSWITCH {
		t.Errorf("with no provider, asked %v, want FreeSWITCH alone", asked)
	}
	// A recording without its file cannot be played.
	var rec struct {
		ID int64 `json:"recording_id"`
	}
	w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": "empty"}), 200).json(t, &rec)
	w.rejected("POST", "/programs/voicemessage", w.admin, map[string]any{"name": "p", "recording_id": rec.ID}, 412, "recording_id")
	w.expect(w.do("PUT", idPath("/messages/recordings/%d/media", rec.ID), w.admin, testWAV(8000, 1, 0.2), "Content-Type", "audio/wav"), 200)
	w.expect(w.do("POST", "/programs/voicemessage", w.admin, map[string]any{"name": "p", "recording_id": rec.ID}), 200)

	// A SIP trunk alone cannot speak: refused, naming what it named.
	w.createProvider(w.admin, map[string]any{"name": "sip", "host": "10.0.0.9", "gateway_flag": dialer.GatewaySIP, "service_flag": dialer.ServiceVoice})
	w.rejected("POST", "/programs/voicetts", w.admin, tts("Hello"), 412, "program")
	// With a FreeSWITCH provider too, one acceptance is enough...
	w.createProvider(w.admin, map[string]any{"name": "fs", "host": "10.0.0.10"})
	w.expect(w.do("POST", "/programs/voicetts", w.admin, tts("Hello")), 200)
	// ... and a refusal of the content by every gateway is a refusal.
	w.rejected("POST", "/programs/voicetts", w.admin, tts("a|b"), 412, "text")
	// A provider that does not serve voice is not asked about a voice program.
	w.createProvider(w.admin, map[string]any{"name": "fax", "host": "10.0.0.11", "service_flag": dialer.ServiceFax})
	asked = nil
	w.rejected("POST", "/programs/voicetts", w.admin, tts("a|b"), 412, "text")
	if len(asked) != 2 {
		t.Errorf("asked %v, want the SIP and the FreeSWITCH provider's gateways", asked)
	}

	// A provider's own defect is not the program's: with only a broken
	// provider, the program is accepted (the provider's check refuses the
	// defect; the campaign is blocked naming it if it got through).
	w2 := newWorld(t, withMessages(t), func(d *Deps) { d.Checker = checker })
	dialertest.NewFixtures(t, w2.db.Path()).Provider(w2.tenant, w2.adminID, "broken", dialer.ServiceVoice, 10, 0, "")
	w2.expect(w2.do("POST", "/programs/voicetts", w2.admin, tts("Hello")), 200)

	// Inline content needs no message store to be checked.
	w3 := newWorld(t, func(d *Deps) { d.Checker = checker })
	w3.rejected("POST", "/programs/voicetts", w3.admin, tts("a|b"), 412, "text")
}
