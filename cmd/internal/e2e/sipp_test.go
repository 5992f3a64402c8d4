package e2e

import (
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
	tr, err := ParseTrace(strings.NewReader(sampleTrace), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	invites, retrans := tr.Invites()
	if len(invites) != 2 || retrans != 1 {
		t.Fatalf("%d invites, %d retransmissions: %+v", len(invites), retrans, invites)
	}
	want := []Invite{
		{At: time.Date(2026, 11, 22, 16, 28, 6, 682300000, time.UTC), CallID: "aaa", User: "+15552000000"},
		{At: time.Date(2026, 11, 22, 16, 28, 6, 692450000, time.UTC), CallID: "bbb", User: "+15552000001"},
	}
	for i, w := range want {
		if g := invites[i]; !g.At.Equal(w.At) || g.CallID != w.CallID || g.User != w.User {
			t.Errorf("invite %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestParseTraceErrors(t *testing.T) {
	for name, text := range map[string]string{
		"bad stamp":         "----------------------------------------------- yesterday\nUDP message received [1] bytes :\n\nINVITE sip:1@h SIP/2.0\nCall-ID: x\n",
		"INVITE no Call-ID": "----------------------------------------------- 2026-11-22 16:28:06.682300\nUDP message received [1] bytes :\n\nINVITE sip:1@h SIP/2.0\nCSeq: 1 INVITE\n\n",
	} {
		if _, err := ParseTrace(strings.NewReader(text), time.UTC); err == nil {
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
		if got := RequestUser(in); got != want {
			t.Errorf("RequestUser(%q) = %q, want %q", in, got, want)
		}
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
	if ok, failed := SIPpCounts(path); ok != 12000 || failed != 0 {
		t.Fatalf("SIPpCounts = %d, %d; want the last screen's 12000, 0", ok, failed)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// entry is one message of a SIPp message log.
func entry(at, dir, text string) string {
	verb := "received [1] bytes :"
	if dir == "sent" {
		verb = "sent (1 bytes):"
	}
	return "----------------------------------------------- 2026-12-07 12:00:" + at + "\nUDP message " + verb + "\n\n" + text + "\n\n"
}

func TestTraceCalls(t *testing.T) {
	log := entry("00.000000", "recv", "INVITE sip:+15552000000@h SIP/2.0\nCall-ID: ans\nCSeq: 1 INVITE") +
		entry("00.001000", "sent", "SIP/2.0 180 Ringing\nCall-ID: ans\nCSeq: 1 INVITE") +
		entry("00.300000", "sent", "SIP/2.0 200 OK\nCall-ID: ans\nCSeq: 1 INVITE") +
		entry("00.800000", "sent", "SIP/2.0 200 OK\nCall-ID: ans\nCSeq: 1 INVITE") +
		entry("00.801000", "recv", "ACK sip:h SIP/2.0\nCall-ID: ans\nCSeq: 1 ACK") +
		entry("02.000000", "recv", "BYE sip:h SIP/2.0\nCall-ID: ans\nCSeq: 2 BYE") +
		entry("02.500000", "recv", "BYE sip:h SIP/2.0\nCall-ID: ans\nCSeq: 2 BYE") +
		entry("02.501000", "sent", "SIP/2.0 200 OK\nCall-ID: ans\nCSeq: 2 BYE") +
		entry("01.000000", "recv", "INVITE sip:+15552000006@h SIP/2.0\nCall-ID: busy\nCSeq: 1 INVITE") +
		entry("01.001000", "sent", "SIP/2.0 486 Busy Here\nCall-ID: busy\nCSeq: 1 INVITE") +
		entry("01.002000", "recv", "OPTIONS sip:h SIP/2.0\nCall-ID: ping\nCSeq: 1 OPTIONS") +
		entry("01.100000", "recv", "INVITE sip:+15552000008@h SIP/2.0\nCall-ID: ring\nCSeq: 1 INVITE") +
		entry("01.101000", "sent", "SIP/2.0 180 Ringing\nCall-ID: ring\nCSeq: 1 INVITE") +
		entry("05.100000", "recv", "CANCEL sip:h SIP/2.0\nCall-ID: ring\nCSeq: 1 CANCEL") +
		entry("05.101000", "sent", "SIP/2.0 487 Request Terminated\nCall-ID: ring\nCSeq: 1 INVITE")
	tr, err := ParseTrace(strings.NewReader(log), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	calls := tr.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 (the OPTIONS ping is not one): %+v", len(calls), calls)
	}
	a, b, r := calls[0], calls[1], calls[2]
	if a.Number != "+15552000000" || !a.Ringing || !a.Answered || a.OKs != 2 || !a.ACKed || a.Byes != 2 || !a.ByeOK ||
		!a.AnsweredAt.Equal(time.Date(2026, 12, 7, 12, 0, 0, 300000000, time.UTC)) {
		t.Errorf("answered call: %+v", a)
	}
	if b.Answered || b.Final != 486 || b.Ringing {
		t.Errorf("busy call: %+v", b)
	}
	if r.Answered || !r.Cancelled || r.Final != 487 || !r.Ringing || r.Byes != 0 {
		t.Errorf("rung-out call: %+v", r)
	}
}

// A log cut while SIPp wrote its last entry's headers loses that entry,
// not the run.
func TestParseTraceCut(t *testing.T) {
	log := entry("00.000000", "recv", "INVITE sip:+15552000000@h SIP/2.0\nCall-ID: a\nCSeq: 1 INVITE") +
		"----------------------------------------------- 2026-12-07 12:00:01.000000\nUDP message received [1] bytes :\n\nBYE sip:h SIP/2.0\nCSe"
	tr, err := ParseTrace(strings.NewReader(log), time.UTC)
	if err != nil || len(tr.Messages) != 1 {
		t.Fatalf("%d messages, %v; want the INVITE alone", len(tr.Messages), err)
	}
}
