package api

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/store"
)

// TestCampaignThroughFreeSwitch is the whole path: the API creates a
// FreeSWITCH profile (a live node at once), a provider on it, a recording
// and a voicemessage program, and a campaign over a group; the spool
// engine dials through the esl gateway (one Event Socket connection) into the
// fake FreeSWITCH, which answers some calls with DTMF and refuses others;
// transmissions, spools and results are read back through the API. Only
// contacts and groups, whose API lives on another branch, are inserted
// directly.
func TestCampaignThroughFreeSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("dials a campaign")
	}
	const sps, maxSessions = 20, 3
	fs := esltest.Start(t, esltest.Options{Password: eslPassword, SessionsPerSecond: sps, MaxSessions: maxSessions})
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
		cfg.RingTimeout, cfg.MaxDuration, cfg.NodeCPS = 5*time.Second, 30*time.Second, sps-1
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
		d.Nodes, d.Messages = gw, store.NewMessages(db, files)
		d.Transmissions, d.Campaigns, d.Engine = db, db, eng
	})
	pw := &pbxWorld{world: w, gw: gw}

	// The FreeSWITCH node, through the PBX profiles API.
	body := fsBody(fs, true)
	body["sps"], body["maxSessions"] = sps, maxSessions
	nodeID, _ := pw.create(body)
	pw.waitFor("the node", func() bool { return gw.NodeHealth()[strconv.FormatInt(nodeID, 10)] == nil })

	// A provider on it, a recording with its file, a voicemessage program.
	w.createProvider(w.admin, map[string]any{"name": "trunk-1", "host": "sip.example.com", "service_flag": dialer.ServiceVoice,
		"node_id": nodeID})
	var rec struct {
		ID int64 `json:"recording_id"`
	}
	w.expect(w.do("POST", "/messages/recordings", w.admin, map[string]any{"name": "reminder"}), 200).json(t, &rec)
	w.expect(w.do("PUT", idPath("/messages/recordings/%d/media", rec.ID), w.admin, testWAV(8000, 1, 0.5), "Content-Type", "audio/wav"), 200)
	var prog struct {
		ID int64 `json:"program_id"`
	}
	w.expect(w.do("POST", "/programs/voicemessage", w.admin, map[string]any{"name": "reminder", "recording_id": rec.ID}), 200).json(t, &prog)

	// Whom to call, and what each far end does.
	type callee struct {
		phone    string
		beh      esltest.Behaviour
		status   string // the transmission's
		response string // the spool's: the engine's verdict, which reads the SIP code first
		digits   []string
		cause    string // FreeSWITCH's Hangup-Cause, when it differs from the response
	}
	callees := []callee{
		{"+4930123401", esltest.Answer(20*time.Millisecond, 1100*time.Millisecond).WithDTMF("12", 30*time.Millisecond), "completed", "NORMAL_CLEARING", []string{"1", "2"}, ""},
		{"+4930123402", esltest.Answer(10*time.Millisecond, 300*time.Millisecond).WithDTMF("9#", 20*time.Millisecond), "completed", "NORMAL_CLEARING", []string{"9", "#"}, ""},
		{"+4930123403", esltest.Answer(0, 200*time.Millisecond), "completed", "NORMAL_CLEARING", nil, ""},
		{"+4930123404", esltest.Busy(), "failed", "USER_BUSY", nil, ""},
		{"+4930123405", esltest.Reject("CALL_REJECTED").WithRing(), "failed", "CALL_REJECTED", nil, ""},
		{"+4930123406", esltest.Reject("NO_ROUTE_DESTINATION"), "invalid", "UNALLOCATED_NUMBER", nil, "NO_ROUTE_DESTINATION"}, // 604
	}
	f := dialertest.NewFixtures(t, db.Path())
	var contacts []int64
	byContact := map[int64]callee{}
	for _, c := range callees {
		fs.Script(c.phone[1:], c.beh)
		id := f.Contact(w.tenant, w.adminID, c.phone, "")
		contacts = append(contacts, id)
		byContact[id] = c
	}
	group := f.Group(w.tenant, w.adminID, contacts...)

	// The campaign, started through the API, runs to its end.
	var camp struct {
		ID int64 `json:"campaign_id"`
	}
	w.expect(w.do("POST", "/campaigns", w.admin, map[string]any{"program_id": prog.ID, "group_id": group, "cpm": 1200, "try_allowed": 1}), 200).json(t, &camp)
	w.expect(w.do("PUT", idPath("/campaigns/%d/start", camp.ID), w.admin, nil), 200)
	pw.waitFor("the campaign to complete", func() bool {
		var c struct{ Status string }
		w.expect(w.do("GET", idPath("/campaigns/%d", camp.ID), w.admin, nil), 200).json(t, &c)
		return c.Status == "completed"
	})

	// Read back through the API.
	var trans []dialer.Transmission
	w.expect(w.do("GET", idPath("/transmissions?campaign_id=%d", camp.ID), w.admin, nil), 200).json(t, &trans)
	if len(trans) != len(callees) {
		t.Fatalf("%d transmissions, want %d", len(trans), len(callees))
	}
	for _, tr := range trans {
		want := byContact[tr.ContactID]
		if string(tr.Status) != want.status || tr.TryDone != 1 {
			t.Errorf("%s: transmission %s after %d tries, want %s", want.phone, tr.Status, tr.TryDone, want.status)
		}
		var spools []dialer.Spool
		w.expect(w.do("GET", idPath("/transmissions/%d/detail", tr.ID), w.admin, nil), 200).json(t, &spools)
		if len(spools) != 1 {
			t.Errorf("%s: %d spools", want.phone, len(spools))
			continue
		}
		sp := spools[0]
		answered := want.status == "completed"
		if sp.Response != want.response || sp.TimeStart == 0 || sp.TimeEnd < sp.TimeStart || (sp.TimeConnect != 0) != answered {
			t.Errorf("%s: spool %+v, want response %s, answered %v", want.phone, sp, want.response, answered)
		}
		var results []dialer.SpoolResult
		w.expect(w.do("GET", idPath("/transmissions/%d/result", tr.ID), w.admin, nil), 200).json(t, &results)
		var digits []string
		var cause string
		for _, r := range results {
			switch {
			case r.Type == "dtmf":
				digits = append(digits, r.Data)
			case r.Type == "hangup" && r.Name == "cause":
				cause = r.Data
			}
		}
		wantCause := cmp.Or(want.cause, want.response)
		if !slices.Equal(digits, want.digits) || cause != wantCause {
			t.Errorf("%s: results %+v, want digits %v and cause %s", want.phone, results, want.digits, wantCause)
		}

		// What FreeSWITCH was asked for this spool: its UUID, the number,
		// the recording's file, which exists.
		var found bool
		for _, o := range fs.Originates() {
			if o.UUID != sp.CallUUID {
				continue
			}
			found = true
			if o.Destination != want.phone[1:] || o.Endpoint != "sofia/gateway/trunk-1/"+want.phone[1:] || o.Application != "playback" {
				t.Errorf("%s: originate %+v", want.phone, o)
			}
			if _, err := os.Stat(o.AppArgs); err != nil {
				t.Errorf("%s: playback of a file that is not there: %v", want.phone, err)
			}
		}
		if !found {
			t.Errorf("%s: no originate with the spool's call uuid %s", want.phone, sp.CallUUID)
		}
	}
	st := fs.Stats()
	if st.Originates != len(callees) || st.PeakChannels > maxSessions || st.MaxOriginatesPerSecond > sps-1 ||
		st.ThrottleRejected+st.LimitRejected != 0 {
		t.Errorf("FreeSWITCH saw %+v", st)
	}
	if n := connections(fs); n != 1 {
		t.Errorf("%d event socket connections, want 1", n)
	}
}

func connections(s *esltest.Server) int {
	seen := map[int]bool{}
	for _, c := range s.Commands() {
		seen[c.Conn] = true
	}
	return len(seen)
}
