package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func smsAttempt(s *sipp, segments ...string) dialer.Attempt {
	n := callSeq.Add(1)
	return dialer.Attempt{
		SpoolID:        n,
		CallUUID:       fmt.Sprintf("0c4f4a52-0000-4000-8000-%012d", n),
		Program:        dialer.ProgramSendSMS,
		Phone:          "+15551230002",
		CallerIDNumber: "+15550000000",
		Provider:       dialer.Route{ProviderID: 9, Host: "127.0.0.1", Port: s.port},
		Media:          dialer.Media{Text: strings.Join(segments, ""), Segments: segments},
	}
}

// sippLog is SIPp's message log, for what the far end received.
func sippLog(t *testing.T, s *sipp) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSendSMSOneMessagePerSegment(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "message", sippOptions{calls: 2})
	a := smsAttempt(s, "Your code is 4711, ", "valid for 5 minutes.")
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseNormalClearing || out.SIPCode != 200 || len(out.Results) != 2 {
		t.Errorf("outcome %+v", out)
	}
	// Accepted by the trunk is delivered. Before: Connect and Delivered
	// unset, which Classify reads as an unanswered NORMAL_CLEARING: retried.
	if v := dialer.Classify(out); v.Disposition != dialer.Completed || !out.Delivered || out.Connect.IsZero() {
		t.Errorf("classified %+v, outcome %+v", v, out)
	}
	log := sippLog(t, s)
	first := strings.Index(log, "\r\n\r\nYour code is 4711, ")
	second := strings.Index(log, "\r\n\r\nvalid for 5 minutes.")
	if first < 0 || second < first {
		t.Errorf("segments not received in order:\n%s", log)
	}
	for _, want := range []string{"MESSAGE sip:+15551230002@127.0.0.1:", "Content-Type: text/plain;charset=UTF-8",
		"Call-ID: " + a.CallUUID + "-1", "Call-ID: " + a.CallUUID + "-2"} {
		if !strings.Contains(log, want) {
			t.Errorf("far end did not receive %q", want)
		}
	}
}

func TestSendSMSRefused(t *testing.T) {
	g := newTestGateway(t, Config{})
	// Only the first of two segments is sent: the trunk refuses it.
	s := startSipp(t, "message_refused", sippOptions{})
	out, err := g.Deliver(testContext(t), smsAttempt(s, "one ", "two"), nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseUnallocatedNumber || out.SIPCode != 404 {
		t.Errorf("outcome %s/%d, want UNALLOCATED_NUMBER/404", out.Cause, out.SIPCode)
	}
	if out.Delivered || !out.Connect.IsZero() {
		t.Errorf("a refused SMS reads delivered: %+v", out)
	}
}

func TestSendSMSWholeTextWithoutSegments(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "message", sippOptions{})
	a := smsAttempt(s)
	a.Media.Text = "Hello, Zoë"
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseNormalClearing || out.SIPCode != 200 {
		t.Errorf("outcome %s/%d", out.Cause, out.SIPCode)
	}
	if log := sippLog(t, s); !strings.Contains(log, "\r\n\r\nHello, Zoë") || !strings.Contains(log, "Call-ID: "+a.CallUUID+"\r\n") {
		t.Errorf("far end received:\n%s", log)
	}
	a.Media.Text = ""
	if _, err := g.Deliver(testContext(t), a, nil); dialer.ErrorCode(err) != dialer.CodeInvalid {
		t.Errorf("empty SMS: %v, want a validation error", err)
	}
}

func TestInboundMessage(t *testing.T) {
	type received struct{ from, to, body string }
	var (
		mu  sync.Mutex
		got []received
	)
	g := newTestGateway(t, Config{OnMessage: func(ctx context.Context, from, to, body string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		mu.Lock()
		got = append(got, received{from, to, body})
		mu.Unlock()
		switch to {
		case "+15551239999":
			return fmt.Errorf("lookup: %w", ErrUnknownRecipient)
		case "+15551238888":
			return errors.New("store is down")
		}
		return nil
	}})
	tests := []struct {
		to     string
		status string
	}{
		{"+15551230003", "SIP/2.0 200 OK"},
		{"+15551239999", "SIP/2.0 404 Not Found"},
		{"+15551238888", "SIP/2.0 500 Server Internal Error"},
	}
	for _, tt := range tests {
		s := startSipp(t, "message_in", sippOptions{
			remote: g.Addr("udp").String(),
			keys:   map[string]string{"from": "+15557654321", "to": tt.to, "body": "STOP please"},
		})
		s.expectSuccess(t)
		if log := sippLog(t, s); !strings.Contains(log, tt.status+"\r\n") {
			t.Errorf("to %s: want %q in:\n%s", tt.to, tt.status, log)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(tests) {
		t.Fatalf("handler saw %d messages, want %d", len(got), len(tests))
	}
	for i, r := range got {
		if r.from != "+15557654321" || r.to != tests[i].to || strings.TrimSpace(r.body) != "STOP please" {
			t.Errorf("message %d = %+v", i, r)
		}
	}
}

// TestInboundMessageRefusesWhatIsNotText sends raw MESSAGEs that the
// handler must never see.
func TestInboundMessageRefusesWhatIsNotText(t *testing.T) {
	var called atomic.Bool
	g := newTestGateway(t, Config{OnMessage: func(context.Context, string, string, string) error {
		called.Store(true)
		return nil
	}})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		contentType, body string
		status            int
	}{
		{"application/json", `{"text":"hi"}`, 415},
		{"text/plain;charset=ISO-8859-1", "hi", 415},
		{"text/plain", "bad \xff utf-8", 400},
		{"text/plain; charset=utf-8", "fine", 200},
	}
	for i, tt := range tests {
		msg := fmt.Sprintf("MESSAGE sip:+15551230003@%[1]s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-raw%[3]d\r\n"+
			"From: <sip:+15557654321@%[2]s>;tag=raw%[3]d\r\n"+
			"To: <sip:+15551230003@%[1]s>\r\n"+
			"Call-ID: raw-%[3]d\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"+
			"Content-Type: %[4]s\r\nContent-Length: %[5]d\r\n\r\n%[6]s",
			g.Addr("udp"), conn.LocalAddr(), i, tt.contentType, len(tt.body), tt.body)
		if _, err := conn.WriteToUDP([]byte(msg), g.Addr("udp").(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%s: no answer: %v", tt.contentType, err)
		}
		if want := fmt.Sprintf("SIP/2.0 %d ", tt.status); !strings.HasPrefix(string(buf[:n]), want) {
			t.Errorf("%s: answer %q, want %q", tt.contentType, strings.SplitN(string(buf[:n]), "\r\n", 2)[0], want)
		}
	}
	if !called.Load() {
		t.Error("the handler never saw the valid message")
	}
}
