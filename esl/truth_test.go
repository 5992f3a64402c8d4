package esl

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDeliveryReadFromTheFake: through the fake FreeSWITCH, which runs the
// applications as the real one does, the outcome says whether the message
// got through.
func TestDeliveryReadFromTheFake(t *testing.T) {
	notWav := writeMedia(testMedia.dir, "bad/not-audio.wav", []byte("this is not audio at all, 44 bytes or more..."))
	for _, tc := range []struct {
		name      string
		beh       esltest.Behaviour
		set       func(*dialer.Attempt)
		kill      bool
		delivered bool
		failure   string
		results   map[string]string
	}{
		{name: "playback played", beh: esltest.Answer(0, 100*time.Millisecond), delivered: true},
		{name: "playback of a file FreeSWITCH cannot open", beh: esltest.Answer(0, 100*time.Millisecond),
			set: func(a *dialer.Attempt) { a.Media.RecordingPath = notWav }, failure: dialer.CauseMediaError,
			results: map[string]string{"playback/response": "FILE NOT FOUND"}},
		{name: "a * from the callee does not cut the message", beh: esltest.Answer(0, 300*time.Millisecond).WithDTMF("*", 20*time.Millisecond),
			delivered: true},
		{name: "nor speak", beh: esltest.Answer(0, 300*time.Millisecond).WithDTMF("*", 20*time.Millisecond), delivered: true,
			set: func(a *dialer.Attempt) { a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "Hello."} }},
		{name: "playback cut by a hangup", beh: esltest.Answer(0, 0), kill: true, failure: dialer.CauseNotDelivered,
			results: map[string]string{"playback/response": "PLAYBACK ERROR"}},
		{name: "speak", beh: esltest.Answer(0, 100*time.Millisecond), delivered: true,
			set: func(a *dialer.Attempt) {
				a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "Your appointment is at ten."}
			}},
		{name: "speak cut by a hangup", beh: esltest.Answer(0, 0), kill: true, failure: dialer.CauseNotDelivered,
			set: func(a *dialer.Attempt) { a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "Hello."} }},
		{name: "fax sent", beh: esltest.Answer(0, 100*time.Millisecond), delivered: true,
			set: func(a *dialer.Attempt) {
				a.Program, a.Media = dialer.ProgramSendFax, dialer.Media{DocumentPath: testMedia.tif}
			},
			results: map[string]string{"fax/result_code": "0", "fax/pages": "1"}},
		{name: "fax of a PDF", beh: esltest.Answer(0, 100*time.Millisecond), failure: dialer.CauseMediaError,
			set: func(a *dialer.Attempt) {
				a.Program, a.Media = dialer.ProgramSendFax, dialer.Media{DocumentPath: testMedia.pdf}
			},
			results: map[string]string{"fax/result_code": "41", "fax/result_text": "TIFF/F file cannot be opened"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{})
			g := startGateway(t, s, testOptions(), 30, 10)
			s.Script(testNumber, tc.beh)
			a := attempt("+4930123456")
			a.MaxDuration = 0
			if tc.set != nil {
				tc.set(&a)
			}
			if tc.kill {
				go func() {
					waitChannels(t, s, 1)
					time.Sleep(100 * time.Millisecond)
					s.Hangup(context.Background(), a.CallUUID, "")
				}()
			}
			o, progress := deliver(t, g, a)
			if o.Connect.IsZero() || o.Delivered != tc.delivered || o.Failure != tc.failure {
				t.Errorf("outcome %+v, want delivered %v failure %q", o, tc.delivered, tc.failure)
			}
			if got := strings.Contains(strings.Join(progress, ","), "delivered"); got != tc.delivered {
				t.Errorf("progress %v", progress)
			}
			for k, want := range tc.results {
				typ, name, _ := strings.Cut(k, "/")
				if got := resultOf(o, typ, name); got != want {
					t.Errorf("result %s = %q, want %q", k, got, want)
				}
			}
			// A call followed to its end leaves no record behind.
			waitNoRecord(t, s, a.CallUUID)
		})
	}
}

// TestRouteFaultsNoChannel: FreeSWITCH over its sessions-per-second
// budget answers -ERR DESTINATION_OUT_OF_ORDER and creates no channel: a
// route fault returned at once, never a wait for a HANGUP_COMPLETE.
func TestRouteFaultsNoChannel(t *testing.T) {
	s := esltest.Start(t, esltest.Options{SessionsPerSecond: 1}) // admits none (sps_limit.txt)
	g := startGateway(t, s, testOptions(), 30, 10)
	start := time.Now()
	_, err := g.Deliver(context.Background(), attempt("+4930123456"), nil)
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || fe.Cause != "DESTINATION_OUT_OF_ORDER" {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%s to return", d)
	}
	if v := dialer.ClassifyError(err); v.Fault != dialer.FaultRoute || v.Disposition != dialer.Retry {
		t.Errorf("verdict %+v", v)
	}
}

// TestShutdownTakesTheNodeOut: SHUTDOWN_REQUESTED (elegant) takes the node
// out of service at once, while its calls run to their end; after the
// restart it serves again and the engine is told (OnRouteUp).
func TestShutdownTakesTheNodeOut(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	var ups atomic.Int32
	opts := testOptions()
	opts.OnRouteUp = func(r dialer.RouteUp) {
		if r.Node == "1" && r.ProviderID == 0 {
			ups.Add(1)
		}
	}
	g := startGateway(t, s, opts, 30, 10)
	if ups.Load() != 1 {
		t.Fatalf("%d route ups after the first connection", ups.Load())
	}
	s.Script(testNumber, esltest.Answer(0, 600*time.Millisecond))
	a := attempt("+4930123456")
	a.Provider.Node = ""
	if r, err := g.Place(a); err != nil || r.Node != "1" {
		t.Fatalf("Place %+v %v", r, err)
	}
	done := make(chan dialer.Outcome, 1)
	go func() {
		o, _ := g.Deliver(context.Background(), a, nil)
		done <- o
	}()
	waitChannels(t, s, 1)
	shut := make(chan struct{})
	go func() { defer close(shut); s.Shutdown(context.Background(), true) }()

	deadline := time.Now().Add(waitFor)
	for {
		_, err := g.Place(attempt("+4930123457"))
		if errors.Is(err, ErrNodeStopping) {
			if fe := dialer.FaultOf(err); fe.Fault != dialer.FaultRoute {
				t.Errorf("Place: %v, want a route fault", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Place still %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := g.NodeHealth()["1"]; !errors.Is(err, ErrNodeStopping) {
		t.Errorf("health of a stopping node: %v", err)
	}
	if _, err := g.Deliver(context.Background(), attempt("+4930123458"), nil); !errors.Is(err, ErrNodeStopping) {
		t.Errorf("Deliver on a stopping node: %v", err)
	}
	if o := <-done; o.Cause != "NORMAL_CLEARING" || !o.Delivered {
		t.Errorf("the live call: %+v", o)
	}
	<-shut
	waitRouteUps(t, &ups, 2)
	waitHealthy(t, g, "1")
	if _, err := g.Place(attempt("+4930123457")); err != nil {
		t.Errorf("after the restart: %v", err)
	}
}

// TestRecover: a call a previous process started is found again through
// the node that placed it.
func TestRecover(t *testing.T) {
	t.Run("ended while nobody listened: its record", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		g := startGateway(t, s, testOptions(), 30, 10)
		s.Script(testNumber, esltest.Answer(0, 200*time.Millisecond))
		a := attempt("+4930123456")
		ctx, cancel := context.WithCancel(context.Background())
		go func() { waitChannels(t, s, 1); cancel() }() // the daemon is killed mid-call
		if _, err := g.Deliver(ctx, a, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("deliver: %v", err)
		}
		waitChannels(t, s, 0)
		if _, ok := s.Hash(recordRealm, a.CallUUID); !ok {
			t.Fatal("FreeSWITCH kept no record")
		}
		o, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: a}, nil)
		if err != nil || o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || !o.Delivered || dialer.Classify(o).Disposition != dialer.Completed {
			t.Errorf("outcome %+v err %v", o, err)
		}
		waitNoRecord(t, s, a.CallUUID)
		if _, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: a}, nil); !errors.Is(err, dialer.ErrCallGone) {
			t.Errorf("second recover: %v", err)
		}
	})
	t.Run("live: followed to its end", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		g := startGateway(t, s, testOptions(), 30, 10)
		s.Script(testNumber, esltest.Answer(0, 0))
		a := attempt("+4930123456")
		ctx, cancel := context.WithCancel(context.Background())
		go func() { waitChannels(t, s, 1); time.Sleep(50 * time.Millisecond); cancel() }()
		_, _ = g.Deliver(ctx, a, nil)
		go func() { time.Sleep(200 * time.Millisecond); s.Hangup(context.Background(), a.CallUUID, "") }()
		answered := time.Now().Add(-time.Second)
		o, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: a, Answered: answered}, nil)
		// The hangup cut the playback: answered, not delivered.
		if err != nil || o.Cause != "NORMAL_CLEARING" || o.Connect.IsZero() || o.Delivered || o.Failure != dialer.CauseNotDelivered {
			t.Errorf("outcome %+v err %v", o, err)
		}
	})
	// A callee who never hangs up is still hung up on at the maximum
	// duration, counted from the answer the store recorded: before, a
	// recovered call had no answer time of its own and was left up.
	t.Run("live and answered before: hung up at the maximum duration", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		g := startGateway(t, s, testOptions(), 30, 10)
		s.Script(testNumber, esltest.Answer(0, 0)) // never hangs up
		a := attempt("+4930123456")
		a.MaxDuration = time.Second
		ctx, cancel := context.WithCancel(context.Background())
		go func() { waitChannels(t, s, 1); time.Sleep(50 * time.Millisecond); cancel() }()
		_, _ = g.Deliver(ctx, a, nil)
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		o, err := g.Recover(rctx, dialer.RecoverSpool{Attempt: a, Answered: time.Now().Add(-500 * time.Millisecond)}, nil)
		if err != nil || o.Connect.IsZero() {
			t.Fatalf("outcome %+v err %v", o, err)
		}
		waitChannels(t, s, 0)
	})
	t.Run("live, its answer not recorded: hung up once the call must be over", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		g := startGateway(t, s, testOptions(), 30, 10)
		s.Script(testNumber, esltest.Answer(0, 0)) // never hangs up
		a := attempt("+4930123456")
		a.MaxDuration, a.RingTimeout = time.Second, 500*time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		go func() { waitChannels(t, s, 1); time.Sleep(50 * time.Millisecond); cancel() }()
		_, _ = g.Deliver(ctx, a, nil)
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if _, err := g.Recover(rctx, dialer.RecoverSpool{Attempt: a, Spooled: time.Now().Add(-100 * time.Millisecond)}, nil); err != nil {
			t.Fatalf("recover: %v", err)
		}
		waitChannels(t, s, 0)
	})
	t.Run("never existed", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		g := startGateway(t, s, testOptions(), 30, 10)
		if _, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: attempt("+4930123456")}, nil); !errors.Is(err, dialer.ErrCallGone) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("node unreachable", func(t *testing.T) {
		g := New(testOptions())
		t.Cleanup(func() { _ = g.Close(context.Background()) })
		host, port := freeAddr(t)
		if err := g.ApplyNode(dialer.FreeSwitchNode{ID: "1", TenantID: testTenant, Host: host, Port: port,
			Password: "ClueCon", SessionsPerSecond: 30, MaxSessions: 10}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: attempt("+4930123456")}, nil); !errors.Is(err, dialer.ErrCallUnknown) {
			t.Errorf("err %v", err)
		}
	})
}

// TestCheckAttempt: the gateway's own rules, as content faults naming the
// API field to fix.
func TestCheckAttempt(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 10*time.Millisecond)})
	g := startGateway(t, s, testOptions(), 30, 10)
	tts := func(text string) func(*dialer.Attempt) {
		return func(a *dialer.Attempt) { a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: text} }
	}
	for _, tc := range []struct {
		name  string
		set   func(*dialer.Attempt)
		field string
	}{
		{"a playable recording", nil, ""},
		{"a text FreeSWITCH can speak", tts("Press 1, then 2, to confirm."), ""},
		{"a text with =", tts("Press 1, then 2 = done."), "text"},
		{"a text with a variable", tts("${x}"), "text"},
		{"a text with a pipe", tts("a|b"), "text"},
		{"a prefix too long", func(a *dialer.Attempt) { a.Provider.Prefix = "12345678901234567" }, "prefix"},
		{"a prefix not digits", func(a *dialer.Attempt) { a.Provider.Prefix = "9#" }, "prefix"},
		{"a dial string without a number", func(a *dialer.Attempt) { a.Provider.DialString = "sofia/gateway/x/123" }, "dialstring"},
		{"a provider name no gateway can have", func(a *dialer.Attempt) { a.Provider.Name = "bad name" }, "name"},
		{"a phone not E.164", func(a *dialer.Attempt) { a.Phone = "12345" }, "phone"},
		{"a recording without extension", func(a *dialer.Attempt) { a.Media.RecordingPath = strings.TrimSuffix(testMedia.wav, ".wav") }, "recording_id"},
		{"a recording in a dotted directory, without extension", func(a *dialer.Attempt) { a.Media.RecordingPath = "/var/lib/dialerd.d/media/ab/cd" }, "recording_id"},
		{"a recording that is not there", func(a *dialer.Attempt) { a.Media.RecordingPath = testMedia.dir + "/none.wav" }, "recording_id"},
		{"a fax document that is not a TIFF", func(a *dialer.Attempt) {
			a.Program, a.Media = dialer.ProgramSendFax, dialer.Media{DocumentPath: testMedia.dir + "/ef/doc.pdf"}
		}, "document_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := attempt("+4930123456")
			if tc.set != nil {
				tc.set(&a)
			}
			for _, err := range []error{g.CheckAttempt(a), func() error { _, err := g.Deliver(context.Background(), a, nil); return err }()} {
				fe := dialer.FaultOf(err)
				switch {
				case tc.field == "" && a.Program == dialer.ProgramVoiceTTS && err == nil:
				case tc.field == "" && err != nil && fe.Fault == dialer.FaultContent:
					t.Errorf("refused: %v", err)
				case tc.field != "" && (fe == nil || fe.Fault != dialer.FaultContent || fe.Field != tc.field):
					t.Errorf("error %v, want a content fault naming %q", err, tc.field)
				}
			}
		})
	}
	if n := len(s.Originates()); n != 2 { // the two that were fine
		t.Errorf("%d originates reached FreeSWITCH", n)
	}
}

// TestPlace: the node is chosen without I/O and named in the route.
func TestPlace(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	a := attempt("+4930123456")
	a.Provider.Node = ""
	if r, err := g.Place(a); err != nil || r.Node != "1" || r.Name != a.Provider.Name {
		t.Errorf("Place %+v %v", r, err)
	}
	a.TenantID = "OTHERTENANTOTHERTENANT"
	if _, err := g.Place(a); dialer.FaultOf(err).Fault != dialer.FaultContent || dialer.FaultOf(err).Field != "node_id" {
		t.Errorf("a tenant without nodes: %v", err)
	}
	s.Close()
	deadline := time.Now().Add(waitFor)
	for g.NodeHealth()["1"] == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := g.Place(attempt("+4930123456")); dialer.FaultOf(err).Fault != dialer.FaultRoute {
		t.Errorf("a node that is down: %v", err)
	}
}

// TestCollector: node state on /metrics.
func TestCollector(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	reg := prometheus.NewRegistry()
	reg.MustRegister(g.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "node" || m.GetLabel()[0].GetValue() != "1" {
				t.Errorf("%s labels %v", mf.GetName(), m.GetLabel())
			}
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{"dialerd_esl_node_up": 1, "dialerd_esl_node_stopping": 0, "dialerd_esl_calls": 0}
	if !maps.Equal(got, want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
}

// TestNoChannelAfterConnectionLoss: the originate was sent, the connection
// died before its reply, and when it came back no channel had ever existed
// (a FreeSWITCH restart): the route's fault, no try spent, not an outcome
// charged to the callee.
func TestNoChannelAfterConnectionLoss(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Stall().WithDrop(esltest.DropOnCommand))
	a := attempt("+4930123456")
	a.RingTimeout = 200 * time.Millisecond
	_, err := g.Deliver(context.Background(), a, nil)
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute {
		t.Errorf("error %v, want a route fault", err)
	}
}

// TestCheckAttemptParts: the API checks a provider without a program or a
// number, and a program without a provider.
func TestCheckAttemptParts(t *testing.T) {
	g := New(testOptions())
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	if err := g.CheckAttempt(dialer.Attempt{Provider: dialer.Route{Name: "carrier", Prefix: "00"}}); err != nil {
		t.Errorf("a good provider: %v", err)
	}
	if err := g.CheckAttempt(dialer.Attempt{Provider: dialer.Route{Name: "carrier", Prefix: "12345678901234567"}}); dialer.FaultOf(err).Field != "prefix" {
		t.Errorf("a bad prefix: %v", err)
	}
	if err := g.CheckAttempt(dialer.Attempt{Program: dialer.ProgramVoiceTTS, Media: dialer.Media{TTSText: "a|b"}}); dialer.FaultOf(err).Field != "text" {
		t.Errorf("a bad text: %v", err)
	}
	if err := g.CheckAttempt(dialer.Attempt{Program: dialer.ProgramVoiceMessage}); dialer.FaultOf(err).Field != "recording_id" {
		t.Errorf("a voicemessage without a recording file: %v", err)
	}
}

// waitNoRecord waits until the call record of uuid is removed (the gateway
// removes records off the attempt's path).
func waitNoRecord(t *testing.T, s *esltest.Server, uuid string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if _, ok := s.Hash(recordRealm, uuid); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the call record was not removed")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestDeliveryCutByKey: playback a key ended still says FILE PLAYED, and
// speak ends as if done; playback_terminator_used tells them from a
// message that played to its end, live and at recovery.
func TestDeliveryCutByKey(t *testing.T) {
	tts := attempt("+4930123456")
	tts.Program, tts.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "Hello."}
	for _, tc := range []struct {
		name      string
		a         dialer.Attempt
		evs       []event
		delivered bool
	}{
		{"playback to its end", attempt("+4930123456"),
			[]event{{name: evExecuteComplete, app: "playback", appResponse: "FILE PLAYED"}}, true},
		{"playback ended by *", attempt("+4930123456"),
			[]event{{name: evExecuteComplete, app: "playback", appResponse: "FILE PLAYED", terminator: "*"}}, false},
		{"speak ended by #", tts,
			[]event{{name: evExecuteComplete, app: "speak", appResponse: "_none_", terminator: "#"}}, false},
		{"recovery: the channel's last playback ended by *", attempt("+4930123456"),
			[]event{{name: evHangupComplete, app: "playback", appResponse: "FILE PLAYED", terminator: "*"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := readDelivery(tc.a, tc.evs)
			if d.delivered != tc.delivered || (!tc.delivered && d.failure == "") {
				t.Errorf("delivery %+v, want delivered %v", d, tc.delivered)
			}
		})
	}
}
