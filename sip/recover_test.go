package sip

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

// answeringUAS answers INVITEs 200 and BYEs 200; with challengeBye the
// first BYE of each Call-ID without credentials gets a 401 challenge.
func answeringUAS(t *testing.T, challengeBye bool) *tinyUAS {
	sink := newRTPSink(t)
	return startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		switch req.Method {
		case sip.INVITE:
			u.answer200(req, from, sink.port())
		case sip.BYE:
			if challengeBye && req.GetHeader("Authorization") == nil {
				u.respond(req, from, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", `Digest realm="t", nonce="b1e", algorithm=MD5`))
				return
			}
			u.respond(req, from, 200, "OK")
		case sip.CANCEL:
			u.respond(req, from, 481, "Call/Transaction Does Not Exist")
		}
	})
}

func uasAttempt(uas *tinyUAS, wav string) dialer.Attempt {
	n := callSeq.Add(1)
	return dialer.Attempt{
		CallUUID: fmt.Sprintf("6b1f3c2e-0000-4000-8000-%012d", n), Program: dialer.ProgramVoiceMessage,
		Phone:       "+15551230001",
		Provider:    dialer.Route{ProviderID: 8, Host: "127.0.0.1", Port: uas.port(), Username: "trunk1", Password: "s3cret"},
		RingTimeout: 20 * time.Second, MaxDuration: 20 * time.Second,
		Media: dialer.Media{RecordingPath: wav},
	}
}

// TestRecoverAnsweredCallSendsBye: a process that did not place an
// answered call ends it with BYE from the dialog saved at answer,
// answering the trunk's challenge of the BYE, and reports the call gone.
// Before: nothing could end it (CallExists said false, the dialog was not
// saved), and the callee stayed connected.
func TestRecoverAnsweredCallSendsBye(t *testing.T) {
	for _, challenge := range []bool{false, true} {
		t.Run(fmt.Sprintf("challenge=%v", challenge), func(t *testing.T) {
			uas := answeringUAS(t, challenge)
			dead := newTestGateway(t, Config{}) // the process that "crashes"
			a := uasAttempt(uas, writeWAV(t, tone(10*time.Second)))
			dialogs := make(chan []byte, 1)
			ctx, cancel := contextWithCancel(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				dead.Deliver(ctx, a, func(p dialer.Progress) {
					if p.Kind == dialer.ProgressAnswered {
						dialogs <- p.Dialog
					}
				})
			}()
			defer func() { cancel(); <-done }()
			var saved []byte
			select {
			case saved = <-dialogs:
			case <-time.After(5 * time.Second):
				t.Fatal("no answer")
			}
			if d, err := parseDialog(saved); err != nil || d.CallID != a.CallUUID || d.LocalTag != fromTag(a.CallUUID) {
				t.Fatalf("saved dialog %s: %+v, %v", saved, d, err)
			}

			next := newTestGateway(t, Config{})
			_, err := next.Recover(testContext(t), dialer.RecoverSpool{Attempt: a, Answered: time.Now(), Dialog: saved}, nil)
			if !errors.Is(err, dialer.ErrCallGone) {
				t.Fatalf("Recover: %v, want ErrCallGone", err)
			}
			invite := uas.requests(sip.INVITE)[0]
			byes := uas.requests(sip.BYE)
			want := 1
			if challenge {
				want = 2
			}
			if len(byes) != want {
				t.Fatalf("%d BYEs before the dead process hung up, want %d", len(byes), want)
			}
			last := byes[len(byes)-1]
			if challenge && last.GetHeader("Authorization") == nil {
				t.Error("the BYE answering the challenge has no credentials")
			}
			nextPort := next.Addr("udp").(*net.UDPAddr).Port
			fromTagGot, _ := last.From().Params.Get("tag")
			toTag, _ := last.To().Params.Get("tag")
			if last.Via().Port != nextPort || last.CallID().Value() != a.CallUUID || fromTagGot != fromTag(a.CallUUID) ||
				!strings.HasPrefix(toTag, "uas") || last.CSeq().SeqNo <= invite.CSeq().SeqNo {
				t.Errorf("BYE %s", last.String())
			}
		})
	}
}

// TestRecoverRingingCallSendsCancel: a call that was ringing when its
// process died is cancelled by a later process, with the CANCEL rebuilt
// from the call UUID alone matching the INVITE's transaction. Before: no
// CANCEL could be built (random tag and branch); the callee rang on.
func TestRecoverRingingCallSendsCancel(t *testing.T) {
	var mu sync.Mutex
	var inviteFrom *net.UDPAddr
	var invite *sip.Request
	uas := startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		switch req.Method {
		case sip.INVITE:
			mu.Lock()
			if invite == nil {
				invite, inviteFrom = req, from
			}
			mu.Unlock()
			u.respond(req, from, 180, "Ringing")
		case sip.CANCEL:
			mu.Lock()
			inv, to := invite, inviteFrom
			mu.Unlock()
			ib, _ := inv.Via().Params.Get("branch")
			cb, _ := req.Via().Params.Get("branch")
			if inv == nil || ib != cb || inv.CSeq().SeqNo != req.CSeq().SeqNo {
				u.respond(req, from, 481, "Call/Transaction Does Not Exist")
				return
			}
			u.respond(req, from, 200, "OK")
			u.respond(inv, to, 487, "Request Terminated")
		}
	})
	dead := newTestGateway(t, Config{})
	a := uasAttempt(uas, writeWAV(t, tone(time.Second)))
	a.Provider.Password = ""
	ctx, cancel := contextWithCancel(t)
	done := make(chan dialer.Outcome, 1)
	go func() {
		out, _ := dead.Deliver(ctx, a, nil)
		done <- out
	}()
	defer cancel()
	uas.waitRequests(sip.INVITE, 1, 5*time.Second)

	next := newTestGateway(t, Config{})
	_, err := next.Recover(testContext(t), dialer.RecoverSpool{Attempt: a, Ringing: time.Now()}, nil)
	if !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("Recover: %v, want ErrCallGone", err)
	}
	cancels := uas.requests(sip.CANCEL)
	if len(cancels) == 0 {
		t.Fatal("no CANCEL")
	}
	c := cancels[0]
	branch, _ := c.Via().Params.Get("branch")
	tag, _ := c.From().Params.Get("tag")
	if branch != inviteBranch(a.CallUUID, 1) || tag != fromTag(a.CallUUID) || c.CallID().Value() != a.CallUUID ||
		c.Recipient.String() != invite.Recipient.String() || c.Via().Port != next.Addr("udp").(*net.UDPAddr).Port {
		t.Errorf("CANCEL %s\nfor INVITE %s", c.String(), invite.String())
	}
	// The INVITE really was cancelled: the dead process's call ends 487.
	select {
	case out := <-done:
		if out.SIPCode != 487 {
			t.Errorf("the cancelled INVITE ended %d %s", out.SIPCode, out.Cause)
		}
	case <-time.After(5 * time.Second):
		t.Error("the INVITE was not terminated")
	}
}

// TestStrayAnswerIsEnded: a 200 OK for an INVITE no live call owns (a
// previous process's) is ACKed, ended with BYE once however often it is
// retransmitted, and reported with the call UUID its Call-ID carries.
// Before: sipgo logged it as unhandled; the callee stayed connected and
// was dialled again.
func TestStrayAnswerIsEnded(t *testing.T) {
	uas := startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		if req.Method == sip.BYE {
			u.respond(req, from, 200, "OK")
		}
	})
	type stray struct {
		uuid string
		at   time.Time
	}
	strays := make(chan stray, 4)
	g := newTestGateway(t, Config{OnStrayAnswer: func(uuid string, at time.Time) { strays <- stray{uuid, at} }})
	port := g.Addr("udp").(*net.UDPAddr).Port
	uuid := "6b1f3c2e-0000-4000-8000-0000000000dd"
	raw := "SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:" + fmt.Sprint(port) + ";branch=" + inviteBranch(uuid, 1) + "\r\n" +
		"From: <sip:+15550000000@127.0.0.1>;tag=" + fromTag(uuid) + "\r\n" +
		"To: <sip:+15551230001@127.0.0.1>;tag=callee1\r\n" +
		"Call-ID: " + uuid + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:127.0.0.1:" + fmt.Sprint(uas.port()) + ">\r\n" +
		"Content-Length: 0\r\n\r\n"
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	for range 3 { // the answer and two retransmissions
		if _, err := uas.conn.WriteToUDP([]byte(raw), to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	acks := uas.waitRequests(sip.ACK, 3, 5*time.Second)
	byes := uas.waitRequests(sip.BYE, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if n := len(uas.requests(sip.BYE)); n != 1 {
		t.Errorf("%d BYEs, want 1", n)
	}
	for _, r := range append(acks[:1], byes[0]) {
		tag, _ := r.To().Params.Get("tag")
		if r.CallID().Value() != uuid || tag != "callee1" {
			t.Errorf("%s", r.String())
		}
	}
	if byes[0].CSeq().SeqNo <= 1 || acks[0].CSeq().SeqNo != 1 {
		t.Errorf("ACK CSeq %d, BYE CSeq %d", acks[0].CSeq().SeqNo, byes[0].CSeq().SeqNo)
	}
	select {
	case s := <-strays:
		if s.uuid != uuid || s.at.IsZero() {
			t.Errorf("stray %+v", s)
		}
	case <-time.After(time.Second):
		t.Fatal("OnStrayAnswer not called")
	}
	select {
	case s := <-strays:
		t.Errorf("stray reported twice: %+v", s)
	default:
	}
}

// TestAnswerAfterWeGaveUpIsEnded: a trunk silent past the response
// timeout makes Deliver a route fault; if its 200 still comes, the callee
// is not left connected (ACK, BYE) and the answer is reported, so the
// engine does not dial them again on the next route unknowingly.
func TestAnswerAfterWeGaveUpIsEnded(t *testing.T) {
	uas := startUAS(t, func(u *tinyUAS, req *sip.Request, from *net.UDPAddr) {
		switch req.Method {
		case sip.INVITE:
			if len(u.requests(sip.INVITE)) == 1 {
				time.AfterFunc(600*time.Millisecond, func() { u.answer200(req, from, 9) })
			}
		case sip.BYE:
			u.respond(req, from, 200, "OK")
		}
	})
	strays := make(chan string, 4)
	g := newTestGateway(t, Config{ResponseTimeout: 300 * time.Millisecond,
		OnStrayAnswer: func(uuid string, _ time.Time) { strays <- uuid }})
	a := uasAttempt(uas, writeWAV(t, tone(100*time.Millisecond)))
	_, err := g.Deliver(testContext(t), a, nil)
	if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultRoute || !errors.Is(err, ErrNoResponse) {
		t.Fatalf("Deliver: %v, want a route fault for no response", err)
	}
	uas.waitRequests(sip.ACK, 1, 5*time.Second)
	uas.waitRequests(sip.BYE, 1, 5*time.Second)
	select {
	case uuid := <-strays:
		if uuid != a.CallUUID {
			t.Errorf("stray %s, want %s", uuid, a.CallUUID)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the late answer was not reported")
	}
}

// TestFinalResponseOfAGoneTransactionIsAcked: the 487 a trunk sends after
// a recovery CANCEL reaches a process that has no INVITE transaction; it
// is ACKed on the INVITE's branch so the trunk stops retransmitting it.
func TestFinalResponseOfAGoneTransactionIsAcked(t *testing.T) {
	uas := startUAS(t, nil)
	g := newTestGateway(t, Config{OnStrayAnswer: func(string, time.Time) { t.Error("a 487 reported as an answer") }})
	port := g.Addr("udp").(*net.UDPAddr).Port
	uuid := "6b1f3c2e-0000-4000-8000-0000000000ee"
	raw := "SIP/2.0 487 Request Terminated\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:" + fmt.Sprint(port) + ";branch=" + inviteBranch(uuid, 1) + "\r\n" +
		"From: <sip:+15550000000@127.0.0.1>;tag=" + fromTag(uuid) + "\r\n" +
		"To: <sip:+15551230001@127.0.0.1>;tag=callee2\r\n" +
		"Call-ID: " + uuid + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := uas.conn.WriteToUDP([]byte(raw), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Fatal(err)
	}
	ack := uas.waitRequests(sip.ACK, 1, 5*time.Second)[0]
	branch, _ := ack.Via().Params.Get("branch")
	tag, _ := ack.To().Params.Get("tag")
	if branch != inviteBranch(uuid, 1) || tag != "callee2" || ack.CSeq().SeqNo != 1 || ack.CallID().Value() != uuid {
		t.Errorf("ACK %s", ack.String())
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(uas.requests(sip.BYE)); n != 0 {
		t.Errorf("%d BYEs for a call never answered", n)
	}
}
