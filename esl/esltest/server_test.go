package esltest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// callEventNames are the events a dialer subscribes to.
func callEventNames() []string {
	return []string{
		"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER",
		"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
	}
}

// originate returns a bgapi originate for number with a chosen channel UUID
// and Job-UUID; extra variables are appended to the {} block.
func originate(uuid, job, number, extra string) string {
	cmd := "bgapi originate {origination_uuid=" + uuid + ",origination_caller_id_number=15550001111" + extra +
		"}sofia/gateway/carrier/" + number + " &park()"
	if job != "" {
		cmd += "\nJob-UUID: " + job
	}
	return cmd
}

// place sends an originate and checks the bgapi acknowledgement.
func (c *client) place(uuid, job, number, extra string) {
	c.t.Helper()
	c.expectReply(originate(uuid, job, number, extra), "+OK Job-UUID: "+job)
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T, c *client)
	}{
		{"wrong password", func(t *testing.T, c *client) {
			c.expectReply("auth secret", "-ERR invalid")
			expectDisconnect(t, c)
		}},
		{"commands before auth", func(t *testing.T, c *client) {
			c.expectReply("api status", "-ERR command not found")
			c.expectReply("event plain all", "-ERR command not found")
			c.expectReply("auth ClueCon", "+OK accepted")
			if got := c.api("uuid_exists nope"); got != "false" {
				t.Fatalf("uuid_exists: %q", got)
			}
		}},
		{"exit before auth", func(t *testing.T, c *client) {
			c.expectReply("exit", "+OK bye")
			expectDisconnect(t, c)
		}},
		{"crlf commands", func(t *testing.T, c *client) {
			c.send("auth ClueCon\r\n\r\n")
			if f := c.read(); f.Get("Reply-Text") != "+OK accepted" {
				t.Fatalf("reply %q", f.Headers)
			}
		}},
	}
	s := esltest.Start(t, esltest.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.steps(t, dial(t, s)) })
	}
	t.Run("auth timeout", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{AuthTimeout: 50 * time.Millisecond})
		expectDisconnect(t, dial(t, s))
	})
	t.Run("custom password", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{Password: "s3cret"})
		c := dial(t, s)
		c.expectReply("auth s3cret", "+OK accepted")
	})
}

func expectDisconnect(t *testing.T, c *client) {
	t.Helper()
	f := c.read()
	if f.ContentType() != "text/disconnect-notice" || !strings.HasPrefix(string(f.Body), "Disconnected, goodbye.") {
		t.Fatalf("got %q %q, want the disconnect notice", f.ContentType(), f.Body)
	}
	c.expectClosed()
}

func TestUnknownAndBackgroundCommands(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	c := login(t, s, "BACKGROUND_JOB")
	c.expectReply("frobnicate now", "-ERR command not found")
	c.expectReply("event plain NOT_AN_EVENT", "-ERR no keywords supplied")
	if got := c.api("frobnicate now"); got != "-ERR frobnicate Command not found!\n" {
		t.Errorf("api: %q", got)
	}
	if got := c.api("version"); !strings.Contains(got, "1.10.12") {
		t.Errorf("version: %q", got)
	}
	status := c.api("status")
	for _, want := range []string{"UP 0 years, 0 days", "is ready", "session(s) since startup", "session(s) per Sec out of max 30", "1000 session(s) max"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}

	// bgapi of an ordinary command, with a generated Job-UUID.
	c.send("bgapi status")
	reply := c.read()
	job := reply.Get("Job-UUID")
	if job == "" || reply.Get("Reply-Text") != "+OK Job-UUID: "+job {
		t.Fatalf("bgapi reply %q", reply.Headers)
	}
	ev := c.event(func(ev esltest.Event) bool { return ev.Get("Job-UUID") == job })
	if ev.Get("Job-Command") != "status" || ev.Has("Job-Command-Arg") || !strings.HasPrefix(string(ev.Body), "UP ") {
		t.Errorf("job event %q body %q", ev.Headers, ev.Body)
	}
	c.expectReply("nolinger", "+OK will not linger")
	c.expectReply("noevents", "+OK no longer listening for events")
	c.expectReply("noevents", "-ERR not listening for events")
}

func TestEventsGoToSubscribers(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 20*time.Millisecond)})
	answerOnly := login(t, s, "CHANNEL_ANSWER")
	all := login(t, s, "all")
	none := login(t, s)
	js := login(t, s)
	js.expectReply("event json CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB", "+OK event listener enabled json")

	const uuid, job = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	answerOnly.place(uuid, job, "15551230001", "")

	evs := all.callEvents(uuid, job)
	// park: its execute-complete follows the far end's hangup
	// (uuid_exists_live.txt).
	want := []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "BACKGROUND_JOB", "CHANNEL_EXECUTE",
		"CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"}
	if !slices.Equal(names(evs), want) {
		t.Fatalf("all: %v, want %v", names(evs), want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Sequence() <= evs[i-1].Sequence() {
			t.Fatalf("Event-Sequence not increasing: %d then %d", evs[i-1].Sequence(), evs[i].Sequence())
		}
	}

	// The call is over, so anything it fired is already queued: a
	// subscriber to CHANNEL_ANSWER alone has exactly that one event ahead
	// of the next reply, and a connection without subscriptions none.
	if ev := answerOnly.event(func(esltest.Event) bool { return true }); ev.Name() != "CHANNEL_ANSWER" || ev.Get("Unique-ID") != uuid {
		t.Fatalf("answer-only got %s", ev.Name())
	}
	for _, c := range []*client{answerOnly, none} {
		c.send("api uuid_exists " + uuid)
		if f := c.read(); f.ContentType() != "api/response" || string(f.Body) != "false" {
			t.Fatalf("want the api/response first, got %q %q", f.ContentType(), f.Body)
		}
	}

	var jsonNames []string
	for len(jsonNames) < 3 {
		f := js.read()
		if f.ContentType() != "text/event-json" {
			t.Fatalf("json subscriber got %q", f.ContentType())
		}
		ev, err := esltest.ParseEventJSON(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		jsonNames = append(jsonNames, ev.Name())
		if ev.Name() == "BACKGROUND_JOB" && string(ev.Body) != "+OK "+uuid+"\n" {
			t.Errorf("json job body %q", ev.Body)
		}
		if ev.Name() == "CHANNEL_CREATE" && ev.Get("Caller-Callee-ID-Name") != "Outbound Call" {
			t.Errorf("json values must not be URL-encoded: %q", ev.Get("Caller-Callee-ID-Name"))
		}
	}
	if !slices.Equal(jsonNames, []string{"CHANNEL_CREATE", "BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"}) {
		t.Fatalf("json subscriber: %v", jsonNames)
	}
}

func TestFilter(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Busy()})
	c := login(t, s, "all")
	const a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	c.expectReply("filter Unique-ID "+b, "+OK filter added. [Unique-ID]=["+b+"]")
	c.place(a, "job-a", "15551230001", "")
	c.place(b, "job-b", "15551230002", "")
	evs := c.callEvents(b, "")
	for _, ev := range evs {
		if ev.Get("Unique-ID") != b {
			t.Fatalf("filter let through %s of %s", ev.Name(), ev.Get("Unique-ID"))
		}
	}
	c.expectReply("filter delete Unique-ID "+b, "+OK filter deleted. [Unique-ID]=["+b+"]")
}

func TestGeneratedUUIDs(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Busy()})
	c := login(t, s, callEventNames()...)
	c.send("bgapi originate sofia/gateway/carrier/15551230001 &park()")
	reply := c.read()
	job := reply.Get("Job-UUID")
	if len(job) != 36 || reply.Get("Reply-Text") != "+OK Job-UUID: "+job {
		t.Fatalf("reply %q", reply.Headers)
	}
	o := s.Originates()
	if len(o) != 1 || len(o[0].UUID) != 36 || o[0].JobUUID != job || o[0].Command != "bgapi" {
		t.Fatalf("originates %+v", o)
	}
	evs := c.callEvents(o[0].UUID, job)
	if got := string(evs[len(evs)-1].Body); got != "-ERR USER_BUSY\n" {
		t.Fatalf("job result %q", got)
	}
	if cid := evs[0].Get("Caller-Caller-ID-Number"); cid != "0000000000" {
		t.Errorf("default caller id %q", cid)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		script    esltest.Behaviour
		extra     string // originate variables
		events    []string
		result    string // BACKGROUND_JOB body without the trailing newline
		cause     string
		q850      string
		sipStatus string // "" when FreeSWITCH sets none
	}{
		{
			name:   "answered",
			script: esltest.Answer(10*time.Millisecond, 20*time.Millisecond),
			events: []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "BACKGROUND_JOB", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"},
			result: "+OK $uuid", cause: "NORMAL_CLEARING", q850: "16",
		},
		{
			name:   "dtmf",
			script: esltest.Answer(0, 30*time.Millisecond).WithDTMF("1#9", 5*time.Millisecond),
			events: []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "BACKGROUND_JOB", "DTMF", "DTMF", "DTMF", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"},
			result: "+OK $uuid", cause: "NORMAL_CLEARING", q850: "16",
		},
		{
			name:   "busy",
			script: esltest.Busy(),
			events: []string{"CHANNEL_CREATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"},
			result: "-ERR USER_BUSY", cause: "USER_BUSY", q850: "17", sipStatus: "486",
		},
		{
			name:   "no route",
			script: esltest.Reject("NO_ROUTE_DESTINATION"),
			events: []string{"CHANNEL_CREATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"},
			result: "-ERR NO_ROUTE_DESTINATION", cause: "NO_ROUTE_DESTINATION", q850: "3", sipStatus: "604",
		},
		{
			name:   "rejected after ringing",
			script: esltest.Reject("CALL_REJECTED").WithRing().WithDelay(10 * time.Millisecond),
			events: []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"},
			result: "-ERR CALL_REJECTED", cause: "CALL_REJECTED", q850: "21", sipStatus: "603",
		},
		{
			name:   "custom sip status",
			script: esltest.Reject("CALL_REJECTED").WithSIPStatus(403, "Forbidden"),
			events: []string{"CHANNEL_CREATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"},
			result: "-ERR CALL_REJECTED", cause: "CALL_REJECTED", q850: "21", sipStatus: "403",
		},
		{
			name:   "unreachable",
			script: esltest.Unreachable(),
			events: []string{"CHANNEL_CREATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"},
			result: "-ERR NORMAL_TEMPORARY_FAILURE", cause: "NORMAL_TEMPORARY_FAILURE", q850: "41", sipStatus: "503",
		},
		{
			name:   "no answer",
			script: esltest.NoAnswer(20 * time.Millisecond),
			events: []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_HANGUP", "BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"},
			result: "-ERR NO_ANSWER", cause: "NO_ANSWER", q850: "19",
		},
		{
			// The originate timeout (1 s, the smallest there is) ends a call
			// that would be answered later.
			name:   "answer after the originate timeout",
			script: esltest.Answer(time.Hour, 0),
			extra:  ",originate_timeout=1",
			events: []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_HANGUP", "BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"},
			result: "-ERR NO_ANSWER", cause: "NO_ANSWER", q850: "19",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := esltest.Start(t, esltest.Options{})
			number := fmt.Sprintf("1555123%04d", i)
			s.Script(number, tt.script)
			c := login(t, s, callEventNames()...)
			uuid := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
			c.place(uuid, "job-"+uuid, number, tt.extra)
			evs := c.callEvents(uuid, "job-"+uuid)
			if !slices.Equal(names(evs), tt.events) {
				t.Fatalf("events %v, want %v", names(evs), tt.events)
			}
			for _, ev := range evs {
				switch ev.Name() {
				case "BACKGROUND_JOB":
					if want := strings.ReplaceAll(tt.result, "$uuid", uuid) + "\n"; string(ev.Body) != want {
						t.Errorf("job result %q, want %q", ev.Body, want)
					}
				case "CHANNEL_HANGUP_COMPLETE":
					got := [3]string{ev.Get("Hangup-Cause"), ev.Get("variable_hangup_cause_q850"), ev.Get("variable_sip_term_status")}
					if want := [3]string{tt.cause, tt.q850, tt.sipStatus}; got != want {
						t.Errorf("cause, q850, sip status = %q, want %q", got, want)
					}
					if ev.Get("Caller-Destination-Number") != number || ev.Get("Channel-Call-UUID") != uuid {
						t.Errorf("destination %q uuid %q", ev.Get("Caller-Destination-Number"), ev.Get("Channel-Call-UUID"))
					}
				case "DTMF":
					if ev.Get("DTMF-Duration") == "" || ev.Get("Unique-ID") != uuid {
						t.Errorf("DTMF event %q", ev.Headers)
					}
				}
			}
			if tt.name == "dtmf" {
				var digits string
				for _, ev := range evs {
					digits += ev.Get("DTMF-Digit")
				}
				if digits != "1#9" {
					t.Errorf("digits %q", digits)
				}
			}
		})
	}
}

// TestDTMFOnTheWire checks that '#' is URL-encoded in the raw event.
func TestDTMFOnTheWire(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 0).WithDTMF("#", time.Millisecond)})
	c := login(t, s, "DTMF")
	c.place("dddddddd-0000-4000-8000-000000000000", "job", "15551230001", "")
	f := c.read()
	if !strings.Contains(string(f.Body), "\nDTMF-Digit: %23\n") {
		t.Fatalf("raw DTMF event:\n%s", f.Body)
	}
}

func TestScriptSequence(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.Busy(), esltest.Answer(0, time.Millisecond))
	c := login(t, s, callEventNames()...)
	var results []string
	for i := range 3 {
		uuid := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i)
		c.place(uuid, "job"+uuid, "15551230001", "")
		evs := c.callEvents(uuid, "job"+uuid)
		for _, ev := range evs {
			if ev.Name() == "BACKGROUND_JOB" {
				results = append(results, strings.Fields(string(ev.Body))[0])
			}
		}
	}
	if !slices.Equal(results, []string{"-ERR", "+OK", "+OK"}) {
		t.Fatalf("results %v", results)
	}
	s.Script("15551230001") // back to the default: answer and stay up
	c.place("00000000-0000-4000-8000-000000000009", "job9", "15551230001", "")
	c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_ANSWER" })
	if got := s.Channels(); len(got) != 1 || !got[0].Answered {
		t.Fatalf("channels %+v", got)
	}
}

func TestLiveChannelsAndKill(t *testing.T) {
	s := esltest.Start(t, esltest.Options{}) // answers and stays up
	c := login(t, s, callEventNames()...)
	const uuid = "cccccccc-0000-4000-8000-000000000001"
	c.place(uuid, "job1", "15551230001", "")
	c.event(func(ev esltest.Event) bool { return ev.Name() == "BACKGROUND_JOB" })

	if got := c.api("uuid_exists " + uuid); got != "true" {
		t.Fatalf("uuid_exists %q", got)
	}
	var show struct {
		RowCount int `json:"row_count"`
		Rows     []map[string]string
	}
	body := c.api("show channels as json")
	if err := json.Unmarshal([]byte(body), &show); err != nil {
		t.Fatalf("show channels as json %q: %v", body, err)
	}
	if show.RowCount != 1 || len(show.Rows) != 1 {
		t.Fatalf("show channels %q", body)
	}
	row := show.Rows[0]
	for k, want := range map[string]string{
		"uuid": uuid, "dest": "15551230001", "callstate": "ACTIVE", "direction": "outbound",
		"application": "park", "name": "sofia/external/15551230001", "state": "CS_EXECUTE",
	} {
		if row[k] != want {
			t.Errorf("row[%s] = %q, want %q", k, row[k], want)
		}
	}
	if csv := c.api("show channels"); !strings.Contains(csv, uuid+",outbound,") || !strings.HasSuffix(csv, "\n1 total.\n") {
		t.Errorf("show channels:\n%s", csv)
	}
	if got := c.api("uuid_getvar " + uuid + " origination_caller_id_number"); got != "15550001111" {
		t.Errorf("uuid_getvar %q", got)
	}
	if got := c.api("uuid_getvar " + uuid + " no_such_var"); got != "_undef_" {
		t.Errorf("uuid_getvar unknown %q", got)
	}

	// uuid_kill answers after CHANNEL_HANGUP is queued, so it comes right
	// after the response.
	if got := c.api("uuid_kill " + uuid + " CALL_REJECTED"); got != "+OK\n" {
		t.Fatalf("uuid_kill %q", got)
	}
	evs := c.callEvents(uuid, "")
	if !slices.Equal(names(evs), []string{"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"}) {
		t.Fatalf("events after kill %v", names(evs))
	}
	if hc := evs[1]; hc.Get("Hangup-Cause") != "CALL_REJECTED" || hc.Get("variable_hangup_cause_q850") != "21" ||
		hc.Get("variable_sip_hangup_disposition") != "send_bye" || hc.Get("variable_billsec") == "" {
		t.Errorf("hangup complete %q %q %q", hc.Get("Hangup-Cause"), hc.Get("variable_hangup_cause_q850"), hc.Get("variable_sip_hangup_disposition"))
	}
	if got := c.api("uuid_exists " + uuid); got != "false" {
		t.Errorf("uuid_exists after hangup %q", got)
	}
	if got := c.api("show channels as json"); got != "{\"row_count\": 0}\n" {
		t.Errorf("show channels after hangup %q", got)
	}
	if got := c.api("uuid_kill " + uuid); got != "-ERR No Such Channel!\n" {
		t.Errorf("second uuid_kill %q", got)
	}
	if got := c.api("uuid_kill"); !strings.HasPrefix(got, "-USAGE") {
		t.Errorf("bare uuid_kill %q", got)
	}

	t.Run("server side hangup", func(t *testing.T) {
		const uuid = "cccccccc-0000-4000-8000-000000000002"
		c.place(uuid, "job2", "15551230002", "")
		c.event(func(ev esltest.Event) bool { return ev.Name() == "BACKGROUND_JOB" })
		if !s.Hangup(t.Context(), uuid, "") || s.Hangup(t.Context(), "no-such-uuid", "") {
			t.Fatal("Hangup reported the wrong channels")
		}
		hc := c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
		if hc.Get("Hangup-Cause") != "NORMAL_CLEARING" {
			t.Errorf("cause %q", hc.Get("Hangup-Cause"))
		}
	})

	t.Run("sendmsg hangup", func(t *testing.T) {
		const uuid = "cccccccc-0000-4000-8000-000000000003"
		c.place(uuid, "job3", "15551230003", "")
		c.event(func(ev esltest.Event) bool { return ev.Name() == "BACKGROUND_JOB" })
		c.expectReply("sendmsg "+uuid+"\ncall-command: hangup\nhangup-cause: USER_BUSY", "+OK")
		hc := c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
		if hc.Get("Hangup-Cause") != "USER_BUSY" {
			t.Errorf("cause %q", hc.Get("Hangup-Cause"))
		}
	})

	t.Run("kill while ringing", func(t *testing.T) {
		const uuid = "cccccccc-0000-4000-8000-000000000004"
		s.Script("15551230004", esltest.NoAnswer(0))
		c.place(uuid, "job4", "15551230004", "")
		c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_PROGRESS" })
		if got := c.api("uuid_kill " + uuid + " ORIGINATOR_CANCEL"); got != "+OK\n" {
			t.Fatalf("uuid_kill %q", got)
		}
		evs := c.callEvents(uuid, "job4")
		if !slices.Equal(names(evs), []string{"CHANNEL_HANGUP", "BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"}) {
			t.Fatalf("events %v", names(evs))
		}
		if string(evs[1].Body) != "-ERR ORIGINATOR_CANCEL\n" {
			t.Errorf("job %q", evs[1].Body)
		}
	})
}

// TestSyncOriginate: "api originate" blocks until the call is answered or
// fails; events fired meanwhile follow the api/response, as they do on the
// real switch, whose listener thread is busy running the command.
func TestSyncOriginate(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.Answer(20*time.Millisecond, 0))
	s.Script("15551230002", esltest.Busy())
	c := login(t, s, "all")

	const uuid = "eeeeeeee-0000-4000-8000-000000000001"
	c.send("api originate {origination_uuid=" + uuid + "}sofia/gateway/carrier/15551230001 &park()")
	f := c.read()
	if f.ContentType() != "api/response" || string(f.Body) != "+OK "+uuid+"\n" {
		t.Fatalf("first frame %q %q, want the api/response", f.ContentType(), f.Body)
	}
	evs := []string{}
	for len(evs) < 3 {
		evs = append(evs, c.event(func(esltest.Event) bool { return true }).Name())
	}
	if !slices.Equal(evs, []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER"}) {
		t.Fatalf("events %v", evs)
	}
	if o := s.Originates(); o[0].Command != "api" || o[0].JobUUID != "" {
		t.Errorf("originate %+v", o[0])
	}
	if got := c.api("originate sofia/gateway/carrier/15551230002 &park()"); got != "-ERR USER_BUSY\n" {
		t.Errorf("busy %q", got)
	}
	if got := c.api("originate nonsense"); !strings.HasPrefix(got, "-USAGE: ") {
		t.Errorf("usage %q", got)
	}
}

func TestDrop(t *testing.T) {
	t.Run("after answer", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 0).WithDrop(esltest.DropAfterAnswer)})
		caller, watcher := login(t, s, "all"), login(t, s, "all")
		const uuid = "ffffffff-0000-4000-8000-000000000001"
		caller.place(uuid, "job", "15551230001", "")
		var got []string
		for {
			f, err := caller.readWithin(ioTimeout)
			if err != nil {
				break
			}
			ev, _ := esltest.ParseEventPlain(f.Body)
			got = append(got, ev.Name())
		}
		if !slices.Equal(got, []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "BACKGROUND_JOB"}) {
			t.Fatalf("before the drop: %v", got)
		}
		// The call outlives the connection that placed it.
		if got := watcher.api("uuid_exists " + uuid); got != "true" {
			t.Fatalf("uuid_exists %q", got)
		}
		watcher.api("uuid_kill " + uuid)
		watcher.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
	})
	t.Run("on command", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 0).WithDrop(esltest.DropOnCommand)})
		caller, watcher := login(t, s), login(t, s, "CHANNEL_ANSWER")
		const uuid = "ffffffff-0000-4000-8000-000000000002"
		caller.send(originate(uuid, "job", "15551230001", ""))
		caller.expectClosed()
		// The job ran although its acknowledgement was lost.
		watcher.event(func(ev esltest.Event) bool { return ev.Get("Unique-ID") == uuid })
	})
	t.Run("all connections", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{})
		a, b := login(t, s), login(t, s)
		s.DropConnections()
		a.expectClosed()
		b.expectClosed()
		login(t, s).api("status") // still accepting
	})
}

func TestStall(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Busy()})
	s.Script("15550000001", esltest.Stall())
	s.Script("15550000002", esltest.StallConnection())
	c := login(t, s, callEventNames()...)

	const stalled, normal = "99999999-0000-4000-8000-000000000001", "99999999-0000-4000-8000-000000000002"
	c.place(stalled, "job-stalled", "15550000001", "")
	c.place(normal, "job-normal", "15551230001", "")
	// Events are delivered in the order they are fired, so once the second
	// call is over, anything the first had fired would have been seen.
	for _, ev := range c.callEvents(normal, "job-normal") {
		if ev.Get("Unique-ID") == stalled || ev.Get("Job-UUID") == "job-stalled" {
			t.Fatalf("stalled call produced %s", ev.Name())
		}
	}
	if got := c.api("uuid_exists " + stalled); got != "false" {
		t.Errorf("uuid_exists %q", got)
	}
	if o := s.Originates(); len(o) != 2 || o[0].UUID != stalled {
		t.Errorf("originates %+v", o)
	}

	t.Run("connection", func(t *testing.T) {
		quiet := login(t, s, "all")
		quiet.send(originate("99999999-0000-4000-8000-000000000003", "job-quiet", "15550000002", ""))
		quiet.send("api status")
		waitFor(t, "the command after the stall to be recorded", func() bool {
			cmds := s.Commands()
			return cmds[len(cmds)-1].Line == "api status"
		})
		f, err := quiet.readWithin(200 * time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("stalled connection answered: %q %v", f.ContentType(), err)
		}
		if got := c.api("uuid_exists x"); got != "false" { // other connections still work
			t.Errorf("other connection: %q", got)
		}
	})
}

func TestCapacity(t *testing.T) {
	t.Run("max sessions", func(t *testing.T) {
		s := esltest.Start(t, esltest.Options{MaxSessions: 2}) // calls stay up
		c := login(t, s, callEventNames()...)
		result := func(i int) string {
			uuid := fmt.Sprintf("aaaaaaaa-0000-4000-8000-00000000000%d", i)
			c.place(uuid, "job"+uuid, "15551230001", "")
			ev := c.event(func(ev esltest.Event) bool { return ev.Name() == "BACKGROUND_JOB" })
			return string(ev.Body)
		}
		for i := range 2 {
			if r := result(i); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("call %d: %q", i, r)
			}
		}
		if r := result(2); r != "-ERR DESTINATION_OUT_OF_ORDER\n" {
			t.Fatalf("third call: %q", r)
		}
		if got := c.api("uuid_exists aaaaaaaa-0000-4000-8000-000000000002"); got != "false" {
			t.Fatalf("refused call exists: %q", got)
		}
		// The slot is free once CHANNEL_HANGUP_COMPLETE is out.
		c.api("uuid_kill aaaaaaaa-0000-4000-8000-000000000000")
		c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
		if r := result(3); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("call after a hangup: %q", r)
		}
		st := s.Stats()
		if st.PeakChannels != 2 || st.LimitRejected != 1 || st.Channels != 3 || st.Originates != 4 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("sessions per second", func(t *testing.T) {
		const sps, burst = 3, 6
		s := esltest.Start(t, esltest.Options{SessionsPerSecond: sps, Default: esltest.Busy()})
		c := login(t, s, "BACKGROUND_JOB")
		for i := range burst {
			c.send(originate(fmt.Sprintf("bbbbbbbb-0000-4000-8000-00000000000%d", i), fmt.Sprint("job", i), "15551230001", ""))
		}
		refused := 0
		for jobs := 0; jobs < burst; {
			f := c.read() // acknowledgements and job events interleave
			if f.ContentType() == "command/reply" {
				continue
			}
			ev, err := esltest.ParseEventPlain(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			jobs++
			if string(ev.Body) == "-ERR DESTINATION_OUT_OF_ORDER\n" {
				refused++
			}
		}
		// sps-1 per one-second tick; a burst can straddle two ticks.
		if placed := burst - refused; placed < sps-1 || placed > 2*(sps-1) {
			t.Fatalf("%d of %d placed with sessions-per-second %d", placed, burst, sps)
		}
		if st := s.Stats(); st.ThrottleRejected != refused || st.MaxOriginatesPerSecond != burst {
			t.Fatalf("stats %+v, refused %d", st, refused)
		}
	})
}

func TestDuplicateUUID(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	c := login(t, s, "BACKGROUND_JOB")
	const uuid = "12121212-0000-4000-8000-000000000000"
	c.place(uuid, "job1", "15551230001", "")
	c.event(func(ev esltest.Event) bool { return ev.Get("Job-UUID") == "job1" })
	c.place(uuid, "job2", "15551230001", "")
	if ev := c.event(func(ev esltest.Event) bool { return ev.Get("Job-UUID") == "job2" }); string(ev.Body) != "-ERR DESTINATION_OUT_OF_ORDER\n" {
		t.Fatalf("duplicate: %q", ev.Body)
	}
}

func TestClose(t *testing.T) {
	s := esltest.New(esltest.Options{})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := login(t, s, "all")
	c.place("13131313-0000-4000-8000-000000000000", "job", "15551230001", "")
	c.event(func(ev esltest.Event) bool { return ev.Name() == "CHANNEL_ANSWER" })
	addr := s.Addr()

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return")
	}
	s.Close() // idempotent
	for {
		// Events queued before Close may still be in flight.
		if _, err := c.readWithin(ioTimeout); err != nil {
			break
		}
	}
	if nc, err := net.DialTimeout("tcp", addr, ioTimeout); err == nil {
		nc.Close()
		t.Fatal("still listening after Close")
	}
}

func TestStartContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := esltest.New(esltest.Options{})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := dial(t, s)
	cancel()
	c.expectClosed()
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("restarting a closed server succeeded")
	}
}

// TestHostileCommands: malformed or oversized commands get an error reply
// or a closed connection, and the server goes on serving others.
func TestHostileCommands(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	tests := []struct {
		name      string
		raw       string
		wantReply string // "" means the connection is closed
	}{
		{"binary garbage", "\x00\xff\xfe garbage\n\n", "-ERR command not found"},
		{"non-ascii prefix", "\u0130PI status\n\n", "-ERR command not found"},
		{"line over the command buffer", strings.Repeat("a", 1<<20+10) + "\n\n", ""},
		{"huge body", "sendevent CUSTOM\nContent-Length: 999999999\n\n", ""},
		{"negative body", "sendevent CUSTOM\nContent-Length: -5\n\n", ""},
		{"body cut short", "sendevent CUSTOM\nContent-Length: 50\n\nshort", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			if _, err := c.nc.Write([]byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			if tt.name == "body cut short" {
				c.nc.(*net.TCPConn).CloseWrite()
			}
			if tt.wantReply == "" {
				c.expectClosed()
				return
			}
			if f := c.read(); f.Get("Reply-Text") != tt.wantReply {
				t.Fatalf("reply %q", f.Headers)
			}
		})
	}
	login(t, s).api("status")
}
