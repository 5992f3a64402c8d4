package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// A message log as SIPp 3.6 writes it (-trace_msg), with a retransmitted
// INVITE, a response and an in-dialog request between the INVITEs.
const sampleTrace = `----------------------------------------------- 2026-11-22 16:28:06.682300
UDP message received [515] bytes :

INVITE sip:+15552000000@127.0.0.1:15060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15061;branch=z9hG4bK-1
Call-ID: aaa
CSeq: 1 INVITE
Content-Length: 0

----------------------------------------------- 2026-11-22 16:28:06.682489
UDP message sent (313 bytes):

SIP/2.0 180 Ringing
Call-ID: aaa
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-22 16:28:06.692450
UDP message received [515] bytes :

INVITE sip:+15552000001@127.0.0.1:15060 SIP/2.0
i: bbb
CSeq: 1 INVITE

v=0
m=audio 4000 RTP/AVP 0

----------------------------------------------- 2026-11-22 16:28:07.182301
UDP message received [515] bytes :

INVITE sip:+15552000000@127.0.0.1:15060 SIP/2.0
Call-ID: aaa
CSeq: 1 INVITE

----------------------------------------------- 2026-11-22 16:28:07.190000
UDP message received [300] bytes :

BYE sip:+15552000000@127.0.0.1:15060 SIP/2.0
Call-ID: aaa
CSeq: 2 BYE

`

func TestParseTrace(t *testing.T) {
	tr, err := parseTrace(strings.NewReader(sampleTrace), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.invites) != 2 || tr.retransmissions != 1 {
		t.Fatalf("%d invites, %d retransmissions: %+v", len(tr.invites), tr.retransmissions, tr.invites)
	}
	want := []invite{
		{at: time.Date(2026, 11, 22, 16, 28, 6, 682300000, time.UTC), callID: "aaa", user: "+15552000000"},
		{at: time.Date(2026, 11, 22, 16, 28, 6, 692450000, time.UTC), callID: "bbb", user: "+15552000001"},
	}
	for i, w := range want {
		if g := tr.invites[i]; !g.at.Equal(w.at) || g.callID != w.callID || g.user != w.user {
			t.Errorf("invite %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestParseTraceErrors(t *testing.T) {
	for name, text := range map[string]string{
		"bad stamp":         "----------------------------------------------- yesterday\nUDP message received [1] bytes :\n\nINVITE sip:1@h SIP/2.0\nCall-ID: x\n",
		"INVITE no Call-ID": "----------------------------------------------- 2026-11-22 16:28:06.682300\nUDP message received [1] bytes :\n\nINVITE sip:1@h SIP/2.0\nCSeq: 1 INVITE\n\n",
	} {
		if _, err := parseTrace(strings.NewReader(text), time.UTC); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRequestUser(t *testing.T) {
	for in, want := range map[string]string{
		"INVITE sip:+15552000000@127.0.0.1:5060 SIP/2.0":    "+15552000000",
		"INVITE sip:15552000000@host;transport=tcp SIP/2.0": "15552000000",
		"INVITE sip:host SIP/2.0":                           "",
		"INVITE":                                            "",
	} {
		if got := requestUser(in); got != want {
			t.Errorf("requestUser(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInviteSpacing(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...float64) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m*float64(time.Millisecond))))
		}
		return out
	}
	tests := []struct {
		name          string
		at            []time.Time
		p50, p99, max float64
		over5         int
	}{
		{"on the grid", at(0, 10, 20, 30, 40), 0, 0, 0, 0},
		{"one 7 ms late", at(0, 10, 27, 30, 40), 0, 7, 7, 2},
		{"jitter", at(0, 11, 20, 31, 40), 1, 1, 1, 0},
		{"one INVITE", at(0), 0, 0, 0, 0},
	}
	for _, tt := range tests {
		s := inviteSpacing(tt.at, 6000)
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
		if s.TargetMS != 10 || !near(s.ErrP50MS, tt.p50) || !near(s.ErrP99MS, tt.p99) || !near(s.ErrMaxMS, tt.max) || s.Over5MS != tt.over5 {
			t.Errorf("%s: %+v, want p50 %v p99 %v max %v over5 %d", tt.name, s, tt.p50, tt.p99, tt.max, tt.over5)
		}
	}
}

func TestRates(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var at []time.Time
	for i := range 6001 { // 6000 intervals of 10 ms: one minute at 6000 cpm
		at = append(at, base.Add(time.Duration(i)*10*time.Millisecond))
	}
	if got := rate(len(at), at[len(at)-1].Sub(at[0])); math.Abs(got-6000) > 1e-6 {
		t.Errorf("rate %v, want 6000", got)
	}
	// A 5 s hole in the middle lowers the middle rate, not the edges'.
	holed := append(append([]time.Time{}, at[:3000]...), at[3500:]...)
	if got := middleRate(holed, 0.1); got > 5600 {
		t.Errorf("middle rate %v across a hole, want under 5600", got)
	}
	if got := percentile([]float64{5, 1, 4, 2, 3}, 50); got != 3 {
		t.Errorf("p50 %v, want 3", got)
	}
	if got := percentile([]float64{5, 1, 4, 2, 3}, 99); got != 5 {
		t.Errorf("p99 %v, want 5", got)
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is a number")
	}
}

func TestSIPpCounts(t *testing.T) {
	path := t.TempDir() + "/sipp.out"
	screen := `  Successful call        |        5                  |        120
  Failed call            |        0                  |        1
later screen
  Successful call        |        0                  |        12000
  Failed call            |        0                  |        0
`
	if err := writeFile(path, screen); err != nil {
		t.Fatal(err)
	}
	if ok, failed := sippCounts(path); ok != 12000 || failed != 0 {
		t.Fatalf("sippCounts = %d, %d; want the last screen's 12000, 0", ok, failed)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
