package api

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/store"
)

// fsCampaignWorld is an API over a store with a running spool engine that
// dials through the esl gateway into a fake FreeSWITCH node, created through
// the PBX profiles API; it returns the node's id.
func fsCampaignWorld(t *testing.T) (*world, *pbxWorld, *esltest.Server, *store.DB, int64) {
	t.Helper()
	fs := esltest.Start(t, esltest.Options{Password: eslPassword})
	gw := esl.New(esl.Options{DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, CloseTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Close(ctx)
	})
	var db *store.DB
	w := newWorld(t, func(d *Deps) {
		db = d.PBX.(*store.DB)
		files, err := store.OpenFiles(filepath.Join(filepath.Dir(db.Path()), "media"))
		if err != nil {
			t.Fatal(err)
		}
		es := store.NewEngineStore(db)
		cfg := dialer.DefaultEngineConfig()
		cfg.RingTimeout, cfg.MaxDuration, cfg.RetryDelay = 5*time.Second, 30*time.Second, 50*time.Millisecond
		eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Clock: dialer.SystemClock{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			eng.Stop(ctx)
			es.Close()
		})
		d.Nodes, d.Messages, d.Checker = gw, store.NewMessages(db, files), gw
		d.Transmissions, d.Campaigns, d.Engine = db, db, eng
	})
	pw := &pbxWorld{world: w, gw: gw}
	nodeID, _ := pw.create(fsBody(fs, true))
	pw.waitFor("the node", func() bool { return gw.NodeHealth()[strconv.FormatInt(nodeID, 10)] == nil })
	return w, pw, fs, db, nodeID
}

// TestSendFaxCampaignThroughFreeSwitch: a sendfax campaign made through
// the API (a fax TIFF document, a program, a provider on a FreeSWITCH
// node) is dialled through the esl gateway into the fake FreeSWITCH. The
// fax the far machine took ends completed with spandsp's result in its
// results; the one the far machine failed (the peer's failure: result 35)
// ends as the cause table says: FAX_FAILED, charged to the callee, retried
// while tries remain, then failed.
func TestSendFaxCampaignThroughFreeSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("dials a campaign")
	}
	w, pw, fs, db, nodeID := fsCampaignWorld(t)
	w.createProvider(w.admin, map[string]any{"name": "fax-trunk", "host": "sip.example.com", "service_flag": dialer.ServiceFax,
		"node_id": nodeID})
	var doc struct {
		ID int64 `json:"document_id"`
	}
	w.expect(w.do("POST", "/messages/documents", w.admin, map[string]any{"name": "invoice"}), 200).json(t, &doc)
	w.expect(w.do("PUT", idPath("/messages/documents/%d/media", doc.ID), w.admin, testTIFF(1), "Content-Type", "image/tiff"), 200)
	var prog struct {
		ID int64 `json:"program_id"`
	}
	w.expect(w.do("POST", "/programs/sendfax", w.admin, map[string]any{"name": "invoice", "document_id": doc.ID}), 200).json(t, &prog)

	const ok, failing = "+4930123501", "+4930123502"
	fs.Script(ok[1:], esltest.Answer(10*time.Millisecond, 100*time.Millisecond))
	fs.Script(failing[1:], esltest.Answer(10*time.Millisecond, 100*time.Millisecond).WithFaxFailure(35, "Unexpected DCN while waiting for DCS or DIS"))
	f := dialertest.NewFixtures(t, db.Path())
	okID, failID := f.Contact(w.tenant, w.adminID, ok, ""), f.Contact(w.tenant, w.adminID, failing, "")
	group := f.Group(w.tenant, w.adminID, okID, failID)
	var camp struct {
		ID int64 `json:"campaign_id"`
	}
	w.expect(w.do("POST", "/campaigns", w.admin, map[string]any{"program_id": prog.ID, "group_id": group, "cpm": 600,
		"try_allowed": 2, "retry_delay": 0}), 200).json(t, &camp)
	w.expect(w.do("PUT", idPath("/campaigns/%d/start", camp.ID), w.admin, nil), 200)
	pw.waitFor("the campaign to complete", func() bool {
		var c struct{ Status string }
		w.expect(w.do("GET", idPath("/campaigns/%d", camp.ID), w.admin, nil), 200).json(t, &c)
		return c.Status == "completed"
	})
	var trans []dialer.Transmission
	w.expect(w.do("GET", idPath("/transmissions?campaign_id=%d", camp.ID), w.admin, nil), 200).json(t, &trans)
	if len(trans) != 2 {
		t.Fatalf("%d transmissions", len(trans))
	}
	for _, tr := range trans {
		var spools []dialer.Spool
		w.expect(w.do("GET", idPath("/transmissions/%d/detail", tr.ID), w.admin, nil), 200).json(t, &spools)
		var results []dialer.SpoolResult
		w.expect(w.do("GET", idPath("/transmissions/%d/result", tr.ID), w.admin, nil), 200).json(t, &results)
		code := ""
		for _, r := range results {
			if r.Type == "fax" && r.Name == "result_code" {
				code = r.Data
			}
		}
		switch tr.ContactID {
		case okID:
			if tr.Status != dialer.TransmissionCompleted || len(spools) != 1 || spools[0].Response != "NORMAL_CLEARING" || code != "0" {
				t.Errorf("the fax taken: %s, spools %+v, result code %q", tr.Status, spools, code)
			}
		case failID:
			if tr.Status != dialer.TransmissionFailed || tr.TryDone != 2 || len(spools) != 2 || code != "35" {
				t.Errorf("the fax failed by the peer: %s after %d tries, spools %+v, result code %q", tr.Status, tr.TryDone, spools, code)
			}
			for _, sp := range spools {
				if sp.Response != dialer.CauseFaxFailed || sp.TimeConnect == 0 {
					t.Errorf("spool %+v, want FAX_FAILED after an answer", sp)
				}
			}
		}
	}
}

// TestVoiceTTSCampaignThroughFreeSwitch: a voicetts program made through
// the API is spoken by FreeSWITCH (speak, flite, the text in dialerd_tts)
// and the call completed on speak's completion, with the text intact; a
// busy callee's call fails USER_BUSY, the callee's fault by the cause table.
func TestVoiceTTSCampaignThroughFreeSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("dials a campaign")
	}
	w, pw, fs, db, nodeID := fsCampaignWorld(t)
	w.createProvider(w.admin, map[string]any{"name": "voice-trunk", "host": "sip.example.com", "service_flag": dialer.ServiceVoice,
		"node_id": nodeID})
	var prog struct {
		ID int64 `json:"program_id"`
	}
	w.expect(w.do("POST", "/programs/voicetts", w.admin, map[string]any{"name": "reminder",
		"text": "Your appointment is tomorrow at ten."}), 200).json(t, &prog)
	const ok, busy = "+4930123601", "+4930123602"
	fs.Script(ok[1:], esltest.Answer(10*time.Millisecond, 100*time.Millisecond))
	fs.Script(busy[1:], esltest.Busy())
	f := dialertest.NewFixtures(t, db.Path())
	okID, busyID := f.Contact(w.tenant, w.adminID, ok, ""), f.Contact(w.tenant, w.adminID, busy, "")
	group := f.Group(w.tenant, w.adminID, okID, busyID)
	var camp struct {
		ID int64 `json:"campaign_id"`
	}
	w.expect(w.do("POST", "/campaigns", w.admin, map[string]any{"program_id": prog.ID, "group_id": group, "cpm": 600,
		"try_allowed": 1}), 200).json(t, &camp)
	w.expect(w.do("PUT", idPath("/campaigns/%d/start", camp.ID), w.admin, nil), 200)
	pw.waitFor("the campaign to complete", func() bool {
		var c struct{ Status string }
		w.expect(w.do("GET", idPath("/campaigns/%d", camp.ID), w.admin, nil), 200).json(t, &c)
		return c.Status == "completed"
	})
	var trans []dialer.Transmission
	w.expect(w.do("GET", idPath("/transmissions?campaign_id=%d", camp.ID), w.admin, nil), 200).json(t, &trans)
	if len(trans) != 2 {
		t.Fatalf("transmissions %+v", trans)
	}
	for _, tr := range trans {
		var spools []dialer.Spool
		w.expect(w.do("GET", idPath("/transmissions/%d/detail", tr.ID), w.admin, nil), 200).json(t, &spools)
		switch {
		case tr.ContactID == okID && tr.Status != dialer.TransmissionCompleted:
			t.Errorf("the call answered: %+v", tr)
		case tr.ContactID == busyID && (tr.Status != dialer.TransmissionFailed || len(spools) != 1 || spools[0].Response != "USER_BUSY"):
			// The callee's fault by the cause table: failed with its one try.
			t.Errorf("the busy callee: %+v, spools %+v; want failed USER_BUSY", tr, spools)
		}
	}
	origs := fs.Originates()
	if len(origs) != 2 {
		t.Fatalf("originates %+v", origs)
	}
	for _, o := range origs {
		if v, _ := o.Var("dialerd_tts"); o.Application != "speak" || v != "Your appointment is tomorrow at ten." {
			t.Errorf("originate %s, dialerd_tts %q", o.Application, v)
		}
	}
}
