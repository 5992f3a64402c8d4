package esltest_test

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"

	"github.com/dialerd/dialerd/esl/esltest"
)

// rawCommand sends its text as is; eslgo appends the blank line. eslgo's
// own originate helpers drop origination_uuid or send "bgapi bgapi", so
// the gateway will send its own command like this.
type rawCommand string

func (r rawCommand) BuildMessage() string { return string(r) }

// TestEslgoClient drives the fake with the client the gateway will use,
// github.com/percipia/eslgo v1.5.2.
func TestEslgoClient(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	s.Script("15551230001", esltest.Answer(20*time.Millisecond, 50*time.Millisecond).WithDTMF("15#", 10*time.Millisecond))

	var once sync.Once
	disconnected := make(chan struct{})
	conn, err := eslgo.Dial(s.Addr(), "ClueCon", func() { once.Do(func() { close(disconnected) }) })
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(conn.Close)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()

	// An explicit list: EnableEvents would subscribe to all.
	if _, err := conn.SendCommand(ctx, command.Event{Format: "plain", Listen: []string{
		"CHANNEL_CREATE", "CHANNEL_ANSWER", "DTMF", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB",
	}}); err != nil {
		t.Fatalf("event: %v", err)
	}

	const uuid, job = "5e1f0c3a-7d2b-4c8e-9f10-2a3b4c5d6e7f", "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"
	// eslgo runs every handler in its own goroutine, so events arrive in
	// any order; they are sorted by Event-Sequence below.
	events := make(chan *eslgo.Event, 32)
	collect := func(ev *eslgo.Event) { events <- ev }
	conn.RegisterEventListener(uuid, collect) // by Unique-ID
	conn.RegisterEventListener(job, collect)  // BACKGROUND_JOB, by Job-UUID

	resp, err := conn.SendCommand(ctx, rawCommand("bgapi originate {origination_uuid="+uuid+
		",origination_caller_id_number=15550001111,originate_timeout=20}sofia/gateway/carrier/15551230001 &park()\r\nJob-UUID: "+job))
	if err != nil {
		t.Fatalf("bgapi: %v", err)
	}
	if !resp.IsOk() || resp.GetHeader("Job-UUID") != job {
		t.Fatalf("bgapi reply %v", resp)
	}

	want := []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "BACKGROUND_JOB", "DTMF", "DTMF", "DTMF", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"}
	var got []*eslgo.Event
	for len(got) < len(want) {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-ctx.Done():
			t.Fatalf("timed out with %d events", len(got))
		}
	}
	seq := func(ev *eslgo.Event) uint64 {
		n, _ := strconv.ParseUint(ev.GetHeader("Event-Sequence"), 10, 64)
		return n
	}
	slices.SortFunc(got, func(a, b *eslgo.Event) int { return cmp.Compare(seq(a), seq(b)) })
	var order, digits []string
	for _, ev := range got {
		order = append(order, ev.GetName())
		switch ev.GetName() {
		case "BACKGROUND_JOB":
			if string(ev.Body) != "+OK "+uuid+"\n" {
				t.Errorf("job result %q", ev.Body)
			}
		case "DTMF":
			digits = append(digits, ev.GetHeader("DTMF-Digit"))
		}
		if ev.GetName() != "BACKGROUND_JOB" && ev.GetHeader("Unique-ID") != uuid {
			t.Errorf("%s for %q", ev.GetName(), ev.GetHeader("Unique-ID"))
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("events %v, want %v", order, want)
	}
	if !slices.Equal(digits, []string{"1", "5", "#"}) {
		t.Errorf("digits %q", digits)
	}

	resp, err = conn.SendCommand(ctx, command.API{Command: "uuid_exists", Arguments: uuid})
	if err != nil || resp.GetReply() != "false" {
		t.Errorf("uuid_exists: %v %v", resp, err)
	}

	// A dropped connection reaches eslgo's onDisconnect.
	s.DropConnections()
	select {
	case <-disconnected:
	case <-ctx.Done():
		t.Fatal("onDisconnect was not called")
	}
}
