package esltest_test

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/esl/esltest"
)

// receivingLeg is the events of fax_tiff_ok.txt's receiving leg
// (loopback/5550100-b, where a dialplan extension ran answer and rxfax)
// from its answer on: what FreeSWITCH sends of an rxfax.
func receivingLeg(t *testing.T) []esltest.Event {
	t.Helper()
	data, err := os.ReadFile("../testdata/fixtures/fax_tiff_ok.txt")
	if err != nil {
		t.Fatal(err)
	}
	var evs []esltest.Event
	for len(data) > 0 {
		if rest, ok := bytes.CutPrefix(data, []byte(">>> ")); ok {
			_, data, _ = bytes.Cut(rest, []byte("\n"))
			continue
		}
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		f, err := esltest.ReadFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		data = data[len(data)-r.Len()-br.Buffered():]
		if f.ContentType() != "text/event-plain" {
			continue
		}
		ev, err := esltest.ParseEventPlain(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(ev.Get("Channel-Name"), "-b") {
			evs = append(evs, ev)
		}
	}
	for i, ev := range evs {
		if ev.Name() == "CHANNEL_EXECUTE" && ev.Get("Application") == "answer" {
			return evs[i:]
		}
	}
	t.Fatal("no answer on the receiving leg")
	return nil
}

// step names an event as the comparison sees it.
func step(ev esltest.Event) string {
	s := ev.Name()
	if app := ev.Get("Application"); app != "" {
		s += " " + app
	}
	if sub := ev.Get("Event-Subclass"); sub != "" {
		s += " " + sub
	}
	return s
}

// TestInboundReplaysTheReceivingLeg: the fake's inbound fax call, driven
// by sendmsg as dialerd drives it, sends the receiving leg's events of the
// real capture in the real order (answer's execute, CHANNEL_ANSWER, its
// completion, rxfax's execute, spandsp::rxfaxresult, rxfax's completion),
// each with the headers the gateway reads and their real values for a
// one-page fax; then, unlike the capture (whose dialplan hung up itself),
// the hangup dialerd asks for.
func TestInboundReplaysTheReceivingLeg(t *testing.T) {
	real := receivingLeg(t)
	s := esltest.Start(t, esltest.Options{})
	c := login(t, s, "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK",
		"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CUSTOM", "spandsp::rxfaxresult")
	path := t.TempDir() + "/rx.tif"
	uuid := s.Inbound(esltest.InboundCall{Destination: "5550100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: []byte("II*\x00"), Pages: 1}})
	park := c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_PARK" })
	if park.Get("Unique-ID") != uuid || park.Get("variable_dialerd_inbound") != "fax" || park.Get("Caller-Destination-Number") != "5550100" {
		t.Fatalf("park %v", park.Headers)
	}
	c.send("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true")
	c.send("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: rxfax\nexecute-app-arg: " + path + "\nevent-lock: true")
	var fake []esltest.Event
	for replies := 0; ; {
		f := c.read()
		if f.ContentType() == "command/reply" {
			if f.Get("Reply-Text") != "+OK" {
				t.Fatalf("sendmsg: %q", f.Get("Reply-Text"))
			}
			replies++
			continue
		}
		ev, err := esltest.ParseEventPlain(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Get("Unique-ID") != uuid {
			continue
		}
		fake = append(fake, ev)
		if ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "rxfax" {
			if replies != 2 {
				t.Fatalf("%d replies to two sendmsg", replies)
			}
			break
		}
	}
	var realSteps, fakeSteps []string
	for _, ev := range real {
		realSteps = append(realSteps, step(ev))
		if ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "rxfax" {
			break
		}
	}
	for _, ev := range fake {
		fakeSteps = append(fakeSteps, step(ev))
	}
	if strings.Join(realSteps, "|") != strings.Join(fakeSteps, "|") {
		t.Fatalf("event order\n fake %q\n real %q", fakeSteps, realSteps)
	}
	read := map[string][]string{
		"CHANNEL_ANSWER":           {"Unique-ID", "Answer-State", "Channel-State", "Caller-Destination-Number", "Caller-Caller-ID-Number"},
		"CHANNEL_EXECUTE_COMPLETE": {"Application", "Application-Response"},
		"CUSTOM":                   {"Event-Subclass", "fax-success", "fax-result-code", "fax-result-text", "fax-document-transferred-pages", "variable_fax_success"},
	}
	for i, ev := range fake {
		want := read[ev.Name()]
		if ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "rxfax" {
			want = append(want, "Application-Data", "variable_fax_success", "variable_fax_result_code", "variable_fax_result_text",
				"variable_fax_document_transferred_pages")
		}
		for _, h := range want {
			if !real[i].Has(h) {
				t.Fatalf("the capture's %s has no %s: fix the test", step(real[i]), h)
			}
			if !ev.Has(h) {
				t.Errorf("fake %s lacks %s", step(ev), h)
				continue
			}
			switch h {
			case "Unique-ID", "Application-Data", "Caller-Destination-Number", "Caller-Caller-ID-Number", "Channel-State":
			default:
				if ev.Get(h) != real[i].Get(h) {
					t.Errorf("%s %s = %q, the capture %q", step(ev), h, ev.Get(h), real[i].Get(h))
				}
			}
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "II*\x00" {
		t.Errorf("rxfax's file %q, %v", b, err)
	}
	c.expectReply("sendmsg "+uuid+"\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING", "+OK")
	end := c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
	if end.Get("Hangup-Cause") != "NORMAL_CLEARING" || end.Get("variable_fax_success") != "1" {
		t.Errorf("hangup complete %s, fax_success %q", end.Get("Hangup-Cause"), end.Get("variable_fax_success"))
	}
}
