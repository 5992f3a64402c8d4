package esl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// fakeFaxReceiver accepts faxes to its DIDs and records what it is told.
type fakeFaxReceiver struct {
	dids map[string]bool
	mu   sync.Mutex
	got  []ReceivedFax
	tiff [][]byte // the file's content while FaxReceived ran
	done chan struct{}
}

func (f *fakeFaxReceiver) AcceptFax(_ context.Context, did string) (bool, error) {
	return f.dids[did], nil
}

func (f *fakeFaxReceiver) FaxReceived(_ context.Context, r ReceivedFax) {
	b, _ := os.ReadFile(r.Path)
	f.mu.Lock()
	f.got, f.tiff = append(f.got, r), append(f.tiff, b)
	f.mu.Unlock()
	f.done <- struct{}{}
}

func (f *fakeFaxReceiver) wait(t *testing.T) (ReceivedFax, []byte) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(waitFor):
		t.Fatal("FaxReceived was not called")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[len(f.got)-1], f.tiff[len(f.tiff)-1]
}

// TestInboundFax: a call the dialplan parked for dialerd is answered with
// rxfax into the fax directory when a fax program receives on its DID, the
// result is read from rxfax's execute-complete (fax_success 1, pages), and
// the call is hung up; a failed fax is reported with spandsp's code and no
// file; a DID nobody receives on is hung up unanswered.
func TestInboundFax(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	recv := &fakeFaxReceiver{dids: map[string]bool{"+15550100100": true}, done: make(chan struct{}, 4)}
	opts := testOptions()
	opts.Fax, opts.FaxDir = recv, t.TempDir()
	startGateway(t, s, opts, 100, 10)
	tiff := []byte("II*\x00 a received fax")

	uuid := s.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: tiff, Pages: 2}})
	got, file := recv.wait(t)
	if !got.Success || got.Pages != 2 || got.ResultCode != 0 || got.From != "15550001111" || got.To != "+15550100100" || got.CallUUID != uuid {
		t.Errorf("received %+v", got)
	}
	if !bytes.Equal(file, tiff) || !strings.HasSuffix(got.Path, uuid+".tif") {
		t.Errorf("file %q at %q", file, got.Path)
	}
	if got.Answered.IsZero() || got.End.Before(got.Answered) {
		t.Errorf("answered %v, ended %v", got.Answered, got.End)
	}
	waitGone(t, got.Path)
	var apps []string
	for _, c := range s.Commands() {
		if c.Name == "sendmsg" {
			apps = append(apps, c.Header("call-command")+" "+c.Header("execute-app-name")+" "+c.Header("hangup-cause"))
		}
	}
	if want := []string{"execute answer ", "execute rxfax ", "hangup  NORMAL_CLEARING"}; strings.Join(apps, "|") != strings.Join(want, "|") {
		t.Errorf("sendmsg %q, want %q", apps, want)
	}

	// The sender hangs up mid-fax: failed, spandsp's 49, no file.
	s.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: tiff, HangUp: true}})
	got, _ = recv.wait(t)
	if got.Success || got.ResultCode != 49 || got.Path != "" || got.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("dropped fax %+v", got)
	}
	// A negotiation failure reported by spandsp.
	s.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Code: 35, Text: "Unexpected DCN while waiting for DCS or DIS"}})
	got, _ = recv.wait(t)
	if got.Success || got.ResultCode != 35 || got.Path != "" {
		t.Errorf("failed fax %+v", got)
	}

	// Nobody receives on this DID: hung up, never answered.
	before := len(s.Commands())
	s.Inbound(esltest.InboundCall{Destination: "15550109999", CallerID: "15550001111"})
	deadline := time.Now().Add(waitFor)
	for {
		var hung bool
		for _, c := range s.Commands()[before:] {
			if c.Name == "sendmsg" {
				if c.Header("call-command") != "hangup" || c.Header("hangup-cause") != "UNALLOCATED_NUMBER" {
					t.Fatalf("unknown DID got %q %q", c.Header("call-command"), c.Header("execute-app-name"))
				}
				hung = true
			}
		}
		if hung {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call to an unknown DID was not hung up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("rxfax's file %s left behind", path)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInboundFaxReadsTheCapture: the gateway reads spandsp's result of a
// real rxfax (fax_tiff_ok.txt's receiving leg) from rxfax's
// execute-complete and from the rxfaxresult event alike: success, code 0,
// one page.
func TestInboundFaxReadsTheCapture(t *testing.T) {
	tr := transcripts(t)["testdata/fixtures/fax_tiff_ok.txt"]
	br := bufio.NewReader(bytes.NewReader(tr.wire))
	var complete, result event
	for {
		f, err := readFrame(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.get("Content-Type") != ctEventPlain {
			continue
		}
		fr, err := parseEventPlain(f.body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(fr.get("Channel-Name"), "-b") {
			continue
		}
		e := parseEvent(&fr, time.Now())
		switch {
		case e.name == evExecuteComplete && e.app == "rxfax":
			complete = e
		case e.name == evCustom && e.subclass == subclassRxFaxResult:
			result = e
		}
	}
	want := faxResult{known: true, success: true, code: 0, text: "OK", pages: 1}
	if complete.fax != want || result.fax != want {
		t.Errorf("rxfax complete %+v, rxfaxresult %+v, want %+v", complete.fax, result.fax, want)
	}
}

// TestDialplanParksFaxForDialerd: the shipped public dialplan marks a fax
// call with the variable and value the gateway acts on and parks it, and
// no longer runs rxfax itself (dialerd would never hear of the fax).
func TestDialplanParksFaxForDialerd(t *testing.T) {
	b, err := os.ReadFile("../configs/freeswitch/dialplan/public/00_dialerd.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	body := s[strings.Index(s, "<include>"):]
	for _, want := range []string{`data="` + varInbound + `=` + inboundFax + `"`, `application="park"`} {
		if !strings.Contains(body, want) {
			t.Errorf("dialplan lacks %s", want)
		}
	}
	if strings.Contains(body, `application="rxfax"`) || strings.Contains(body, `application="answer"`) {
		t.Error("the dialplan answers or receives the fax itself: dialerd would never hear of it")
	}
}

// FuzzInboundEvent reads arbitrary event bodies as the inbound side does:
// it must never panic, and only a CHANNEL_PARK marked for dialerd with a
// UUID and a number would be driven.
func FuzzInboundEvent(f *testing.F) {
	f.Add([]byte("Event-Name: CHANNEL_PARK\nUnique-ID: 3c4ee569-0f53-43a6-a451-c1f1c5dacb87\nvariable_dialerd_inbound: fax\n" +
		"Caller-Destination-Number: 15550100100\nCaller-Caller-ID-Number: 15550001111\n"))
	f.Add([]byte("Event-Name: CHANNEL_EXECUTE_COMPLETE\nApplication: rxfax\nvariable_fax_success: 1\nvariable_fax_result_code: 0\n" +
		"variable_fax_document_transferred_pages: 3\n"))
	f.Add([]byte("Event-Name: CUSTOM\nEvent-Subclass: spandsp%3A%3Arxfaxresult\nfax-success: 0\nfax-result-code: 49\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := parseEventPlain(body)
		if err != nil {
			return
		}
		e := parseEvent(&fr, time.Now())
		driven := e.name == evPark && e.inbound == inboundFax && uuidPattern.MatchString(e.uuid)
		if driven && strings.ContainsAny(e.uuid, "\n\r ") {
			t.Fatalf("a UUID with separators would reach sendmsg: %q", e.uuid)
		}
		if e.fax.success && !e.fax.known {
			t.Fatal("a fax success without a result")
		}
	})
}

func TestCallerNumber(t *testing.T) {
	for in, want := range map[string]string{
		"15550001111": "15550001111", "+15550001111": "+15550001111", " +1 (555) 000-1111 ": "+15550001111",
		"anonymous": "", "1555\nX-Injected: 1": "15551", strings.Repeat("9", 30): strings.Repeat("9", 20),
	} {
		if got := callerNumber(in); got != want {
			t.Errorf("callerNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
