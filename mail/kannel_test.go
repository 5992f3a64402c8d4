package mail

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestKannelOutcomeTable(t *testing.T) {
	now := time.Now()
	sends := []struct {
		status int
		taken  bool
		disp   dialer.Disposition
		fault  dialer.Fault
	}{
		{202, true, 0, 0},
		{200, true, 0, 0},
		{400, false, dialer.Final, dialer.FaultCallee},
		{403, false, dialer.Retry, dialer.FaultRoute},
		{503, false, dialer.Retry, dialer.FaultRoute},
		{500, false, dialer.Retry, dialer.FaultRoute},
	}
	for _, tt := range sends {
		out, ok := SendSMSOutcome(tt.status, now, now)
		if ok != tt.taken {
			t.Errorf("sendsms %d: taken %v", tt.status, ok)
		}
		if ok {
			continue
		}
		if v := dialer.Classify(out); v.Disposition != tt.disp || v.Fault != tt.fault {
			t.Errorf("sendsms %d: verdict %+v", tt.status, v)
		}
	}
	dlrs := []struct {
		typ   int
		final bool
		disp  dialer.Disposition
		cause string
	}{
		{DLRDelivered, true, dialer.Completed, "NORMAL_CLEARING"},
		{DLRFailed, true, dialer.Final, dialer.CauseNotDelivered},
		{DLRSMSCReject, true, dialer.Final, dialer.CauseSMSRejected},
		{DLRBuffered, false, 0, ""},
		{DLRSMSCSubmit, false, 0, ""},
	}
	for _, tt := range dlrs {
		out, final := DLROutcome(DLR{Type: tt.typ, At: now}, now, now)
		if final != tt.final {
			t.Errorf("dlr %d: final %v", tt.typ, final)
		}
		if !final {
			continue
		}
		v := dialer.Classify(out)
		if v.Disposition != tt.disp || v.Cause != tt.cause {
			t.Errorf("dlr %d: verdict %+v", tt.typ, v)
		}
		// Only a delivered report completes a spool.
		if (v.Disposition == dialer.Completed) != (tt.typ == DLRDelivered) {
			t.Errorf("dlr %d completes: %v", tt.typ, v.Disposition == dialer.Completed)
		}
	}
}

func testKannel(t testing.TB) *Kannel {
	k, err := NewKannel(KannelConfig{CallbackURL: "http://127.0.0.1:8013", Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKannelDLRURLSigned(t *testing.T) {
	k := testKannel(t)
	u, err := url.Parse(strings.NewReplacer("%d", "1", "%A", "ok", "%i", "fake", "%T", "1").Replace(k.dlrURL("abc")))
	if err != nil {
		t.Fatal(err)
	}
	id, d, err := k.ParseDLR(u.Query(), time.Now())
	if err != nil || id != "abc" || d.Type != DLRDelivered {
		t.Fatalf("%q %+v %v", id, d, err)
	}
	q := u.Query()
	q.Set("id", "abd") // another attempt's id with this signature
	if _, _, err := k.ParseDLR(q, time.Now()); err == nil {
		t.Error("a report for another id was taken with this id's signature")
	}
	// Over HTTP: a forged report is refused and reaches no attempt.
	srv := httptest.NewServer(k.Handler())
	defer srv.Close()
	ch, done := k.wait("abd")
	defer done()
	resp, err := http.Get(srv.URL + "/kannel/dlr?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged report: %d", resp.StatusCode)
	}
	select {
	case d := <-ch:
		t.Errorf("forged report delivered: %+v", d)
	default:
	}
}

func TestKannelMOAccess(t *testing.T) {
	k := testKannel(t)
	var got []string
	k.cfg.OnMO = func(_ context.Context, from, to, text string, _ time.Time) error {
		got = append(got, from+" "+to+" "+text)
		if to == "+15550199" {
			return dialer.NotFound("account")
		}
		return nil
	}
	srv := httptest.NewServer(k.Handler())
	defer srv.Close()
	get := func(q string) int {
		resp, err := http.Get(srv.URL + "/kannel/mo?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// No token configured: loopback clients (the test) may deliver.
	if c := get("from=15557777&to=%2B15550100&text=hi"); c != 200 {
		t.Errorf("loopback MO: %d", c)
	}
	if c := get("from=15557777&to=%2B15550199&text=hi"); c != 200 {
		t.Errorf("MO for a number nothing receives: %d (smsbox must not retry)", c)
	}
	if c := get("from=abc&to=%2B15550100&text=hi"); c != 400 {
		t.Errorf("bad sender: %d", c)
	}
	k.cfg.MOToken = "s3cret-token"
	if c := get("from=15557777&to=%2B15550100&text=hi"); c != 403 {
		t.Errorf("MO without the token: %d", c)
	}
	if c := get("from=15557777&to=%2B15550100&text=again&token=s3cret-token"); c != 200 {
		t.Errorf("MO with the token: %d", c)
	}
	want := []string{"+15557777 +15550100 hi", "+15557777 +15550199 hi", "+15557777 +15550100 again"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("MO recorded %q, want %q", got, want)
	}
}

func FuzzParseDLR(f *testing.F) {
	k := testKannel(f)
	f.Add("abc", k.sign("abc"), "1", "ACK/", "fake")
	f.Add("abc", "00", "16", "NACK/0x00000045/Submit failed", "")
	f.Add("", "", "x", "\r\nX: y", "a\x00b")
	f.Fuzz(func(t *testing.T, id, sig, typ, reply, smsc string) {
		q := url.Values{"id": {id}, "sig": {sig}, "type": {typ}, "reply": {reply}, "smsc": {smsc}}
		gotID, d, err := k.ParseDLR(q, time.Now())
		if err != nil {
			return
		}
		if gotID != id || hasControl(d.Reply) || hasControl(d.SMSC) || len(d.Reply) > 512 {
			t.Fatalf("accepted %q %+v", gotID, d)
		}
		if sig != k.sign(id) && !strings.EqualFold(sig, k.sign(id)) {
			t.Fatalf("accepted a bad signature for %q", id)
		}
		if _, final := DLROutcome(d, time.Now(), time.Now()); final != (d.Type == DLRDelivered || d.Type == DLRFailed || d.Type == DLRSMSCReject) {
			t.Fatalf("type %d final %v", d.Type, final)
		}
	})
}

func FuzzParseMO(f *testing.F) {
	f.Add("+15557777", "15550100", "hello")
	f.Add("0044123456", "+1", "\xff\xfe")
	f.Fuzz(func(t *testing.T, from, to, text string) {
		gf, gt, gtext, err := ParseMO(url.Values{"from": {from}, "to": {to}, "text": {text}})
		if err != nil {
			return
		}
		for _, n := range []string{gf, gt} {
			if !dialer.Dialable(n) && !strings.HasPrefix(n, "+") {
				t.Fatalf("number %q", n)
			}
			if strings.ContainsFunc(n[1:], func(r rune) bool { return r < '0' || r > '9' }) {
				t.Fatalf("number %q", n)
			}
		}
		if !strings.HasPrefix(gf, "+") || !strings.HasPrefix(gt, "+") {
			t.Fatal("not E.164")
		}
		_ = gtext
	})
}

// A report that arrives before anyone waits (recovery after a restart) is
// kept and taken by Recover; an attempt whose DLR window is over is gone.
func TestKannelRecover(t *testing.T) {
	k := testKannel(t)
	k.cfg.DLRTimeout = time.Minute
	id := "6b9f0c2e-0000-4000-8000-000000000042"
	k.report(id, DLR{Type: DLRSMSCSubmit, Reply: "ACK/", At: time.Now()})
	k.report(id, DLR{Type: DLRDelivered, Reply: "id:1 stat:DELIVRD", At: time.Now()})
	s := dialer.RecoverSpool{Attempt: dialer.Attempt{CallUUID: id}, Spooled: time.Now().Add(-10 * time.Second)}
	out, err := k.Recover(context.Background(), s, func(dialer.Progress) {})
	if err != nil || dialer.Classify(out).Disposition != dialer.Completed {
		t.Fatalf("recovered %+v, %v", out, err)
	}
	s.Spooled = time.Now().Add(-2 * time.Minute)
	if _, err := k.Recover(context.Background(), s, func(dialer.Progress) {}); !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("past the DLR window: %v", err)
	}
	// Shutdown while waiting: the spool stays open for the next start.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Spooled = time.Now()
	if _, err := k.Recover(ctx, s, func(dialer.Progress) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// Reports after an attempt's final one are dropped, not kept for a
// recovery that will never ask: the kept set stays empty.
func TestKannelLateReportsDropped(t *testing.T) {
	k := testKannel(t)
	id := "6b9f0c2e-0000-4000-8000-000000000043"
	ch, done := k.wait(id)
	k.report(id, DLR{Type: DLRDelivered, At: time.Now()})
	<-ch
	done()
	k.report(id, DLR{Type: DLRSMSCSubmit, At: time.Now()})
	if len(k.early) != 0 {
		t.Fatalf("late report kept: %v", k.early)
	}
	// A report for an attempt nobody waits for yet is kept for recovery.
	k.report("other", DLR{Type: DLRDelivered, At: time.Now()})
	if len(k.early["other"].dlrs) != 1 {
		t.Fatalf("early report not kept: %v", k.early)
	}
}
