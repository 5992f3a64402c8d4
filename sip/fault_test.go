package sip

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

// resultsOf indexes results by type and name.
func resultsOf(rs []dialer.Result) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		if r.Type != "dtmf" {
			m[r.Type+"."+r.Name] = r.Data
		}
	}
	return m
}

// TestCallResults: every call records its cause, final SIP code and, when
// answered, its answer time and billsec, as the ESL path does (before:
// only DTMF digits, so /result of a SIP call was empty).
func TestCallResults(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		g := newTestGateway(t, Config{})
		sink := newRTPSink(t)
		s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
		a := voiceAttempt(t, s, "udp", writeWAV(t, tone(300*time.Millisecond)))
		out, err := g.Deliver(testContext(t), a, nil)
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.expectSuccess(t)
		r := resultsOf(out.Results)
		if r["hangup.cause"] != "NORMAL_CLEARING" || r["sip.term_status"] != "200" || r["hangup.billsec"] != fmt.Sprint(out.Billsec) {
			t.Errorf("results %v", out.Results)
		}
		at, err := time.Parse(time.RFC3339Nano, r["hangup.answer_time"])
		if err != nil || !at.Equal(out.Connect) {
			t.Errorf("answer_time %q (%v), connect %v", r["hangup.answer_time"], err, out.Connect)
		}
	})
	t.Run("busy", func(t *testing.T) {
		g := newTestGateway(t, Config{})
		s := startSipp(t, "busy", sippOptions{})
		out, err := g.Deliver(testContext(t), voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond))), nil)
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.expectSuccess(t)
		r := resultsOf(out.Results)
		if r["hangup.cause"] != "USER_BUSY" || r["sip.term_status"] != "486" || r["hangup.answer_time"] != "" {
			t.Errorf("results %v", out.Results)
		}
	})
}

// TestDeliveredOnlyWhenWholeRecordingSent: Delivered (and ProgressDelivered)
// come from the RTP sender having sent the whole recording; the maximum
// duration cutting it is MESSAGE_CUT. Before: Delivered was set on every
// answered call, so a cut message read completed.
func TestDeliveredOnlyWhenWholeRecordingSent(t *testing.T) {
	tests := []struct {
		name        string
		recording   time.Duration
		maxDuration time.Duration
		delivered   bool
		failure     string
		disposition dialer.Disposition
	}{
		{"whole", 300 * time.Millisecond, 20 * time.Second, true, "", dialer.Completed},
		{"cut by the maximum duration", 10 * time.Second, 300 * time.Millisecond, false, dialer.CauseMessageCut, dialer.Final},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			sink := newRTPSink(t)
			s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
			a := voiceAttempt(t, s, "udp", writeWAV(t, tone(tt.recording)))
			a.MaxDuration = tt.maxDuration
			var prog progressLog
			out, err := g.Deliver(testContext(t), a, prog.record)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t) // it got our BYE
			if out.Delivered != tt.delivered || out.Failure != tt.failure {
				t.Errorf("delivered %v failure %q, want %v %q", out.Delivered, out.Failure, tt.delivered, tt.failure)
			}
			if n := prog.count(dialer.ProgressDelivered); (n == 1) != tt.delivered || n > 1 {
				t.Errorf("%d ProgressDelivered, progress %v", n, prog.kinds)
			}
			if v := dialer.Classify(out); v.Disposition != tt.disposition {
				t.Errorf("classified %+v, want %v", v, tt.disposition)
			}
		})
	}
}

// TestCallEndsBeforeTheMessage: the callee hanging up mid-message is
// NOT_DELIVERED; our shutdown cutting it is MESSAGE_CUT after a BYE, and
// Deliver still returns the outcome. Before: both read delivered
// (NORMAL_CLEARING, completed).
func TestCallEndsBeforeTheMessage(t *testing.T) {
	t.Run("callee hangs up", func(t *testing.T) {
		g := newTestGateway(t, Config{})
		s := startSipp(t, "hangup", sippOptions{})
		out, err := g.Deliver(testContext(t), voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second))), nil)
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.expectSuccess(t)
		if out.Delivered || out.Failure != dialer.CauseNotDelivered || out.Connect.IsZero() {
			t.Errorf("outcome %+v, want answered, NOT_DELIVERED", out)
		}
		if v := dialer.Classify(out); v.Disposition == dialer.Completed || v.Cause != dialer.CauseNotDelivered {
			t.Errorf("classified %+v", v)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		g := newTestGateway(t, Config{})
		sink := newRTPSink(t)
		s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
		ctx, cancel := contextWithCancel(t)
		out, err := g.Deliver(ctx, voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second))), func(p dialer.Progress) {
			if p.Kind == dialer.ProgressAnswered {
				time.AfterFunc(200*time.Millisecond, cancel) // the grace is over
			}
		})
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.expectSuccess(t) // it got our BYE
		if out.Delivered || out.Failure != dialer.CauseMessageCut {
			t.Errorf("outcome %+v, want MESSAGE_CUT", out)
		}
		if v := dialer.Classify(out); v.Disposition == dialer.Completed {
			t.Errorf("classified %+v", v)
		}
	})
}

// TestDeadTrunkIsTheRoutesFault: a trunk that never answers is the route's
// fault within Config.ResponseTimeout, whatever the ring timeout; a
// refused TCP connection at once. Before: the INVITE was retransmitted
// until Timer B and the attempt ended RECOVERY_ON_TIMER_EXPIRE/408 (a
// callee fault, the try spent) after 32 s; 63 s through the engine.
func TestDeadTrunkIsTheRoutesFault(t *testing.T) {
	wav := writeWAV(t, tone(100*time.Millisecond))
	silent := startUAS(t, nil)
	refused := freePort(t, "tcp")
	tests := []struct {
		name      string
		transport string
		port      int
		ring      time.Duration
		within    time.Duration
	}{
		{"silent udp", "udp", silent.port(), 60 * time.Second, 6 * time.Second},
		{"silent udp, short ring timeout", "udp", silent.port(), 500 * time.Millisecond, 2 * time.Second},
		{"refused tcp", "tcp", refused, 60 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			n := callSeq.Add(1)
			a := dialer.Attempt{
				CallUUID: fmt.Sprintf("6b1f3c2e-0000-4000-8000-%012d", n), Program: dialer.ProgramVoiceMessage,
				Phone:       "+15551230001",
				Provider:    dialer.Route{ProviderID: 9, Host: "127.0.0.1", Port: tt.port, Transport: tt.transport},
				RingTimeout: tt.ring,
				Media:       dialer.Media{RecordingPath: wav},
			}
			start := time.Now()
			out, err := g.Deliver(testContext(t), a, nil)
			took := time.Since(start)
			fe := dialer.FaultOf(err)
			if fe == nil || fe.Fault != dialer.FaultRoute {
				t.Fatalf("Deliver = %+v, %v; want a route fault", out, err)
			}
			if v := dialer.ClassifyError(err); v.Fault != dialer.FaultRoute || v.Disposition != dialer.Retry {
				t.Errorf("classified %+v", v)
			}
			if took > tt.within {
				t.Errorf("route fault after %v, want within %v", took, tt.within)
			}
			t.Logf("%s: %v after %v", tt.name, err, took.Round(time.Millisecond))
		})
	}
}

// TestClassifyTrunkAnswers: 401/407 after we answered the challenge is
// the route's AUTHENTICATION_FAILED (before: CALL_REJECTED, final, charged
// to the callee); our CANCEL at the ring timeout is NO_ANSWER, the
// callee's, retried (before, through Classify: ORIGINATOR_CANCEL).
func TestClassifyTrunkAnswers(t *testing.T) {
	for _, code := range []int{401, 407} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			scenario := "auth_refused"
			if code == 407 {
				scenario = "proxy_auth_refused"
			}
			g := newTestGateway(t, Config{})
			s := startSipp(t, scenario, sippOptions{})
			a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
			a.Provider.Username, a.Provider.Password = "trunk1", "wrong"
			out, err := g.Deliver(testContext(t), a, nil)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t) // two INVITEs, the second with credentials
			if out.SIPCode != code || out.Cause != dialer.CauseAuthFailed {
				t.Errorf("outcome %s/%d, want %s/%d", out.Cause, out.SIPCode, dialer.CauseAuthFailed, code)
			}
			if v := dialer.Classify(out); v.Fault != dialer.FaultRoute || v.Cause != dialer.CauseAuthFailed {
				t.Errorf("classified %+v, want the route's %s", v, dialer.CauseAuthFailed)
			}
		})
	}
	t.Run("ring timeout", func(t *testing.T) {
		g := newTestGateway(t, Config{})
		s := startSipp(t, "noanswer", sippOptions{})
		a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
		a.RingTimeout = 500 * time.Millisecond
		out, err := g.Deliver(testContext(t), a, nil)
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.expectSuccess(t)
		if out.SIPCode != 487 || out.Cause != CauseNoAnswer {
			t.Errorf("outcome %s/%d, want NO_ANSWER/487", out.Cause, out.SIPCode)
		}
		if v := dialer.Classify(out); v.Cause != CauseNoAnswer || v.Fault != dialer.FaultCallee || v.Disposition != dialer.Retry {
			t.Errorf("classified %+v", v)
		}
	})
}

// TestInviteIdentityIsDerivedFromTheCallUUID: Call-ID, From tag and the
// Via branch of each INVITE are functions of the call UUID, so another
// process can rebuild them. Before: tag and branch were random.
func TestInviteIdentityIsDerivedFromTheCallUUID(t *testing.T) {
	uas := startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		switch req.Method {
		case sip.INVITE:
			if req.GetHeader("Authorization") == nil {
				u.respond(req, from, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", `Digest realm="t", nonce="abc", algorithm=MD5`))
			} else {
				u.respond(req, from, 486, "Busy Here")
			}
		}
	})
	g := newTestGateway(t, Config{})
	a := dialer.Attempt{
		CallUUID: "0f0e0d0c-0b0a-4908-8706-050403020100", Program: dialer.ProgramVoiceMessage, Phone: "+15551230001",
		Provider: dialer.Route{ProviderID: 9, Host: "127.0.0.1", Port: uas.port(), Username: "u", Password: "p"},
		Media:    dialer.Media{RecordingPath: writeWAV(t, tone(100*time.Millisecond))},
	}
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil || out.SIPCode != 486 {
		t.Fatalf("Deliver = %+v, %v", out, err)
	}
	invites := uas.requests(sip.INVITE)
	var branches []string
	for i, inv := range invites {
		tag, _ := inv.From().Params.Get("tag")
		branch, _ := inv.Via().Params.Get("branch")
		branches = append(branches, branch)
		if inv.CallID().Value() != a.CallUUID || tag != fromTag(a.CallUUID) || inv.CSeq().SeqNo != uint32(inviteCSeq+i) {
			t.Errorf("INVITE %d: Call-ID %s tag %s CSeq %d", i+1, inv.CallID().Value(), tag, inv.CSeq().SeqNo)
		}
	}
	// Retransmissions repeat a branch; the distinct ones are the two INVITEs.
	branches = slices.Compact(branches)
	if want := []string{inviteBranch(a.CallUUID, 1), inviteBranch(a.CallUUID, 2)}; !slices.Equal(branches, want) {
		t.Errorf("branches %v, want %v", branches, want)
	}
}
