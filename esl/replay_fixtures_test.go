package esl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// replayGateway runs a gateway with one node on a replay of the capture.
func replayGateway(t *testing.T, name string) (*Gateway, *replayServer, *atomic.Int32) {
	return replayGatewayFor(t, name, false)
}

func replayGatewayFor(t *testing.T, name string, recovering bool) (*Gateway, *replayServer, *atomic.Int32) {
	t.Helper()
	rs := startReplay(t, name, recovering)
	ups := new(atomic.Int32)
	opts := testOptions()
	opts.OnRouteUp = func(r dialer.RouteUp) {
		if r.Node == "1" {
			ups.Add(1)
		}
	}
	g := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = g.Close(ctx)
	})
	host, port := rs.addr()
	if err := g.ApplyNode(dialer.FreeSwitchNode{ID: "1", TenantID: testTenant, Name: "fs", Host: host, Port: port,
		Password: "ClueCon", SessionsPerSecond: 100, MaxSessions: 100}); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, g, "1")
	return g, rs, ups
}

// captureUUIDs are the origination_uuids of the capture's originates.
func captureUUIDs(rs *replayServer) []string {
	var out []string
	for _, it := range rs.items {
		if m := originateUUID.FindStringSubmatch(it.command); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func replayAttempt(uuid string, program dialer.ProgramType) dialer.Attempt {
	a := attempt("+15551230011")
	a.CallUUID, a.Program = uuid, program
	a.RingTimeout = 20 * time.Second
	a.MaxDuration = 0
	switch program {
	case dialer.ProgramVoiceTTS:
		a.Media = dialer.Media{TTSText: "Hello from the fixture"}
	case dialer.ProgramSendFax:
		a.Media = dialer.Media{DocumentPath: testMedia.tif}
	}
	return a
}

func resultOf(o dialer.Outcome, typ, name string) string {
	for _, r := range o.Results {
		if r.Type == typ && r.Name == name {
			return r.Data
		}
	}
	return ""
}

// TestReplayFixtures plays each capture of a real FreeSWITCH 1.10.12 to
// the gateway and checks the outcome it records.
func TestReplayFixtures(t *testing.T) {
	completed := func(t *testing.T, o dialer.Outcome, err error, billsec int) {
		t.Helper()
		v := dialer.Classify(o)
		if err != nil || !o.Delivered || v.Disposition != dialer.Completed || o.Billsec != billsec {
			t.Errorf("outcome %+v err %v verdict %+v, want delivered, completed, billsec %d", o, err, v, billsec)
		}
	}
	failed := func(t *testing.T, o dialer.Outcome, err error, failure string) {
		t.Helper()
		v := dialer.Classify(o)
		if err != nil || o.Delivered || o.Failure != failure || o.Connect.IsZero() || v.Cause != failure {
			t.Errorf("outcome %+v err %v verdict %+v, want answered and failed %s", o, err, v, failure)
		}
	}
	deliverOne := func(t *testing.T, name string, program dialer.ProgramType) (dialer.Outcome, error, []string) {
		g, rs, _ := replayGateway(t, name)
		var p progressLog
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		o, err := g.Deliver(ctx, replayAttempt(captureUUIDs(rs)[0], program), p.add)
		return o, err, p.list()
	}

	t.Run("answered.txt", func(t *testing.T) {
		// Captured without CHANNEL_EXECUTE_COMPLETE: the playback's response
		// comes from HANGUP_COMPLETE's current_application_response.
		o, err, _ := deliverOne(t, "answered.txt", dialer.ProgramVoiceMessage)
		completed(t, o, err, 2)
	})
	t.Run("dtmf.txt", func(t *testing.T) {
		o, err, _ := deliverOne(t, "dtmf.txt", dialer.ProgramVoiceMessage)
		if err != nil || !slices.Equal(resultData(o, "dtmf", "digit"), []string{"1", "5", "#"}) {
			t.Errorf("outcome %+v err %v", o, err)
		}
	})
	for name, cause := range map[string]string{"busy.txt": "USER_BUSY", "noanswer.txt": "NO_ANSWER", "unreachable.txt": "NORMAL_TEMPORARY_FAILURE"} {
		t.Run(name, func(t *testing.T) {
			o, err, _ := deliverOne(t, name, dialer.ProgramVoiceMessage)
			if err != nil || o.Cause != cause || !o.Connect.IsZero() || o.Delivered {
				t.Errorf("outcome %+v err %v, want %s unanswered", o, err, cause)
			}
		})
	}
	t.Run("playback_missing.txt", func(t *testing.T) {
		o, err, progress := deliverOne(t, "playback_missing.txt", dialer.ProgramVoiceMessage)
		failed(t, o, err, dialer.CauseMediaError)
		if slices.Contains(progress, "delivered") || resultOf(o, "playback", "response") != "FILE NOT FOUND" {
			t.Errorf("progress %v results %v", progress, o.Results)
		}
	})
	t.Run("playback_ok.txt", func(t *testing.T) {
		o, err, progress := deliverOne(t, "playback_ok.txt", dialer.ProgramVoiceMessage)
		completed(t, o, err, 3)
		if !slices.Contains(progress, "delivered") {
			t.Errorf("progress %v", progress)
		}
	})
	t.Run("playback_noext_wav_sibling.txt", func(t *testing.T) {
		// FreeSWITCH played a sibling it found by guessing: the gateway
		// never hands over a path without its extension.
		g, rs, _ := replayGateway(t, "playback_noext_wav_sibling.txt")
		a := replayAttempt(captureUUIDs(rs)[0], dialer.ProgramVoiceMessage)
		a.Media.RecordingPath = strings.TrimSuffix(testMedia.wav, ".wav")
		for _, err := range []error{g.CheckAttempt(a), func() error { _, err := g.Deliver(context.Background(), a, nil); return err }()} {
			if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultContent || fe.Field != "recording_id" {
				t.Errorf("error %v, want a content fault naming recording_id", err)
			}
		}
		for _, c := range rs.commands() {
			if strings.Contains(c, "originate") {
				t.Errorf("sent %q", c)
			}
		}
	})
	t.Run("speak.txt", func(t *testing.T) {
		o, err, _ := deliverOne(t, "speak.txt", dialer.ProgramVoiceTTS)
		completed(t, o, err, 2)
	})
	t.Run("speak_spaces.txt", func(t *testing.T) {
		// The text was cut at its first space: not what was to be said.
		o, err, _ := deliverOne(t, "speak_spaces.txt", dialer.ProgramVoiceTTS)
		failed(t, o, err, dialer.CauseMediaError)
	})
	t.Run("fax_tiff_ok.txt", func(t *testing.T) {
		o, err, _ := deliverOne(t, "fax_tiff_ok.txt", dialer.ProgramSendFax)
		completed(t, o, err, 16)
		if resultOf(o, "fax", "result_code") != "0" || resultOf(o, "fax", "pages") != "1" {
			t.Errorf("results %v", o.Results)
		}
	})
	t.Run("fax_bad_file.txt", func(t *testing.T) {
		o, err, _ := deliverOne(t, "fax_bad_file.txt", dialer.ProgramSendFax)
		failed(t, o, err, dialer.CauseMediaError)
		if v := dialer.Classify(o); v.Fault != dialer.FaultContent || resultOf(o, "fax", "result_code") != "41" ||
			resultOf(o, "fax", "result_text") != "TIFF/F file cannot be opened" {
			t.Errorf("verdict %+v results %v", v, o.Results)
		}
	})
	t.Run("fax_missing_file.txt", func(t *testing.T) {
		o, err, _ := deliverOne(t, "fax_missing_file.txt", dialer.ProgramSendFax)
		failed(t, o, err, dialer.CauseMediaError)
	})
	t.Run("sps_limit.txt", func(t *testing.T) {
		g, rs, _ := replayGateway(t, "sps_limit.txt")
		var wg sync.WaitGroup
		for _, uuid := range captureUUIDs(rs) {
			wg.Go(func() {
				start := time.Now()
				_, err := g.Deliver(context.Background(), replayAttempt(uuid, dialer.ProgramVoiceMessage), nil)
				if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || fe.Cause != "DESTINATION_OUT_OF_ORDER" {
					t.Errorf("%s: error %v, want a route fault", uuid, err)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("%s: %s to return: it waited for a HANGUP_COMPLETE that never comes", uuid, d)
				}
			})
		}
		wg.Wait()
	})
	t.Run("sps_limit_3.txt", func(t *testing.T) {
		g, rs, _ := replayGateway(t, "sps_limit_3.txt")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var answered, refused int
		for _, uuid := range captureUUIDs(rs) {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				o, err := g.Deliver(ctx, replayAttempt(uuid, dialer.ProgramVoiceMessage), nil)
				mu.Lock()
				defer mu.Unlock()
				switch fe := dialer.FaultOf(err); {
				case err == nil && !o.Connect.IsZero():
					answered++
				case fe != nil && fe.Fault == dialer.FaultRoute:
					refused++
				default:
					t.Errorf("%s: %+v %v", uuid, o, err)
				}
			})
		}
		wg.Wait()
		if answered != 2 || refused != 3 {
			t.Errorf("answered %d, refused %d; want 2 and 3", answered, refused)
		}
	})
	t.Run("shutdown.txt", func(t *testing.T) {
		g, rs, ups := replayGateway(t, "shutdown.txt")
		a := replayAttempt(captureUUIDs(rs)[0], dialer.ProgramVoiceMessage)
		o, err := g.Deliver(context.Background(), a, nil)
		if err != nil || o.Cause != "SYSTEM_SHUTDOWN" {
			t.Errorf("outcome %+v err %v", o, err)
		}
		// Out of service at once, back on the reconnect.
		if _, err := g.Place(replayAttempt(newUUID(), dialer.ProgramVoiceMessage)); err == nil {
			// The reconnect may already have happened; then it must be
			// counted as a route up.
			if ups.Load() < 2 {
				t.Errorf("Place accepted a node that announced its shutdown")
			}
		} else if fe := dialer.FaultOf(err); fe.Fault != dialer.FaultRoute {
			t.Errorf("Place: %v, want a route fault", err)
		}
		waitRouteUps(t, ups, 2)
		if r, err := g.Place(replayAttempt(newUUID(), dialer.ProgramVoiceMessage)); err != nil || r.Node != "1" {
			t.Errorf("after the reconnect: %+v %v", r, err)
		}
	})
	t.Run("shutdown_elegant.txt", func(t *testing.T) {
		g, rs, ups := replayGateway(t, "shutdown_elegant.txt")
		a := replayAttempt(captureUUIDs(rs)[0], dialer.ProgramVoiceMessage)
		var p progressLog
		var placeErr error
		o, err := g.Deliver(context.Background(), a, func(pr dialer.Progress) {
			p.add(pr)
			if pr.Kind == dialer.ProgressDelivered {
				// SHUTDOWN_REQUESTED came before the playback ended.
				_, placeErr = g.Place(replayAttempt(newUUID(), dialer.ProgramVoiceMessage))
			}
		})
		completed(t, o, err, 3)
		// Stopping (SHUTDOWN_REQUESTED) or, if the rest of the capture
		// has already arrived, down: either way refused, as the route's.
		if fe := dialer.FaultOf(placeErr); fe == nil || fe.Fault != dialer.FaultRoute ||
			!(errors.Is(placeErr, ErrNodeStopping) || errors.Is(placeErr, ErrNodeDown)) {
			t.Errorf("Place during an elegant shutdown: %v", placeErr)
		}
		waitRouteUps(t, ups, 2)
	})
	t.Run("shutdown_custom_last.txt", func(t *testing.T) {
		// Another connection's calls and the disconnect: the node is down
		// until it reconnects, then it serves again.
		// The capture (and its disconnect) may arrive before the gateway's
		// second subscription is answered: then the first connection never
		// counted as up, and the second one does.
		g, rs, _ := replayGateway(t, "shutdown_custom_last.txt")
		deadline := time.Now().Add(waitFor)
		for {
			rs.mu.Lock()
			n := rs.conns
			rs.mu.Unlock()
			if n >= 2 && g.NodeHealth()["1"] == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections, health %v", n, g.NodeHealth()["1"])
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := g.Place(replayAttempt(newUUID(), dialer.ProgramVoiceMessage)); err != nil {
			t.Errorf("after the reconnect: %v", err)
		}
	})
	t.Run("uuid_exists_live.txt", func(t *testing.T) {
		// A call a previous process started: still live, followed to its end.
		g, rs, _ := replayGatewayFor(t, "uuid_exists_live.txt", true)
		a := replayAttempt(captureUUIDs(rs)[0], dialer.ProgramVoiceMessage)
		answered := time.Now().Add(-time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		o, err := g.Recover(ctx, dialer.RecoverSpool{Attempt: a, Answered: answered, Delivered: answered}, nil)
		if err != nil || o.Cause != "NORMAL_CLEARING" || o.Billsec != 1 || !o.Delivered || o.Connect.IsZero() {
			t.Errorf("outcome %+v err %v", o, err)
		}
	})
}

func waitRouteUps(t *testing.T, ups *atomic.Int32, n int32) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for ups.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d route ups, want %d", ups.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
