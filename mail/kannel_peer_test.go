package mail

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/mail/mailtest"
)

// kannelPeer is Debian's Kannel with the gateway's callback listener in
// front of it.
type kannelPeer struct {
	*mailtest.Kannel
	gw       *Kannel
	callback *httptest.Server

	mu sync.Mutex
	mo []string
}

func startKannel(t *testing.T, cfg KannelConfig) *kannelPeer {
	t.Helper()
	p := &kannelPeer{}
	cfg.OnMO = func(_ context.Context, from, to, text string, _ time.Time) error {
		p.mu.Lock()
		p.mo = append(p.mo, from+" "+to+" "+text)
		p.mu.Unlock()
		return nil
	}
	var handler http.Handler = http.NotFoundHandler()
	p.callback = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(p.callback.Close)
	cfg.CallbackURL = p.callback.URL
	if cfg.Key == nil {
		cfg.Key = []byte("0123456789abcdef0123456789abcdef")
	}
	gw, err := NewKannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.gw, handler = gw, gw.Handler()
	p.Kannel = mailtest.StartKannel(t, p.callback.URL)
	return p
}

func (p *kannelPeer) route() dialer.Route {
	return dialer.Route{ProviderID: 3, Name: "kannel", Host: "127.0.0.1", Port: p.SendsmsPort, Username: "tester",
		Password: "testpw", Sender: "12345", Gateway: dialer.GatewayKannel}
}

func smsAttempt(r dialer.Route, id int, phone, text string) dialer.Attempt {
	return dialer.Attempt{SpoolID: int64(id), CallUUID: fmt.Sprintf("6b9f0c2e-0000-4000-8000-%012d", id), Program: dialer.ProgramSendSMS,
		Phone: phone, Provider: r, Media: dialer.Media{Text: text, Segments: dialer.SplitSMS(text)}}
}

func TestKannelSendSMS(t *testing.T) {
	p := startKannel(t, KannelConfig{DLRTimeout: 3 * time.Second})
	tests := []struct {
		phone, text string
		disp        dialer.Disposition
		cause       string
		dlrs        []string
	}{
		{"+15550001", "hello from dialerd", dialer.Completed, "NORMAL_CLEARING", []string{"smsc_submit", "delivered"}},
		{"+15550002", "to a dead phone", dialer.Final, dialer.CauseNotDelivered, []string{"smsc_submit", "failed"}},
		{"+15550003", "refused by the SMSC", dialer.Final, dialer.CauseSMSRejected, []string{"smsc_reject"}},
		{"+15550004", "no report ever", dialer.Final, dialer.CauseNotDelivered, []string{"smsc_submit", "timeout"}},
		{"+15550005", "buffered first", dialer.Completed, "NORMAL_CLEARING", []string{"smsc_submit", "buffered", "delivered"}},
		{"+15550006", "Привет, мир ✓", dialer.Completed, "NORMAL_CLEARING", []string{"smsc_submit", "delivered"}},
	}
	var wg sync.WaitGroup
	outs := make([]dialer.Outcome, len(tests))
	errs := make([]error, len(tests))
	for i, tt := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = p.gw.Deliver(context.Background(), smsAttempt(p.route(), i+1, tt.phone, tt.text), func(dialer.Progress) {})
		}()
	}
	wg.Wait()
	for i, tt := range tests {
		if errs[i] != nil {
			t.Errorf("%s: %v", tt.phone, errs[i])
			continue
		}
		v := dialer.Classify(outs[i])
		if v.Disposition != tt.disp || v.Cause != tt.cause {
			t.Errorf("%s: verdict %+v, want %v %s (results %+v)", tt.phone, v, tt.disp, tt.cause, outs[i].Results)
		}
		// smsbox posts reports concurrently: the intermediate ones may come
		// after the final one (and are then dropped); the final one ends it.
		var dlrs []string
		for _, r := range outs[i].Results {
			if r.Type == "dlr" {
				dlrs = append(dlrs, r.Name)
			}
		}
		if len(dlrs) == 0 || dlrs[len(dlrs)-1] != tt.dlrs[len(tt.dlrs)-1] || !subset(dlrs, tt.dlrs) {
			t.Errorf("%s: reports %v, want %v ending with %s (results %+v)", tt.phone, dlrs, tt.dlrs, tt.dlrs[len(tt.dlrs)-1], outs[i].Results)
		}
		if r := outs[i].Results[0]; r.Name != "sendsms" || !strings.HasPrefix(r.Data, "202 ") {
			t.Errorf("%s: sendsms result %+v", tt.phone, r)
		}
	}
	for _, s := range p.SMSC.Submitted() {
		if s.To == "+15550006" || s.To == "15550006" {
			if s.Coding != 0x08 || s.Text != "Привет, мир ✓" {
				t.Errorf("UCS-2 submit: coding %#x text %q", s.Coding, s.Text)
			}
		}
		if s.From != "12345" {
			t.Errorf("submit from %q", s.From)
		}
	}

	// MO through smsbox's get-url.
	p.SMSC.SendMO("+15557777", "+15550100", "STOP please")
	time.Sleep(200 * time.Millisecond) // in order: smsbox serves MO concurrently
	p.SMSC.SendMOUCS2("+15557777", "+15550100", "Привет ✓")
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		mo := append([]string(nil), p.mo...)
		p.mu.Unlock()
		if len(mo) == 2 {
			if mo[0] != "+15557777 +15550100 STOP please" || mo[1] != "+15557777 +15550100 Привет ✓" {
				t.Errorf("MO %q", mo)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no MO message reached dialerd")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKannelDown(t *testing.T) {
	gw, err := NewKannel(KannelConfig{CallbackURL: "http://127.0.0.1:1", Key: make([]byte, 32), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := dialer.Route{Host: "127.0.0.1", Port: mailtest.FreePort(t), Username: "u", Password: "secretpw", Gateway: dialer.GatewayKannel}
	_, err = gw.Deliver(context.Background(), smsAttempt(r, 1, "+15550001", "hi"), func(dialer.Progress) {})
	v := dialer.ClassifyError(err)
	if v.Fault != dialer.FaultRoute || v.Disposition != dialer.Retry {
		t.Fatalf("verdict %+v (%v)", v, err)
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func subset(got, of []string) bool {
	for _, g := range got {
		if !slices.Contains(of, g) {
			return false
		}
	}
	return true
}
