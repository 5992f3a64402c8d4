package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// event is one message of GET /ws (dialer.Event), the fields watch uses.
type event struct {
	Type       string    `json:"type"`
	CampaignID int64     `json:"campaign_id"`
	Status     string    `json:"status"`
	Response   string    `json:"response"`
	Field      string    `json:"field"`
	Fault      string    `json:"fault"`
	Counters   *counters `json:"counters"`
}

// Polling backs the stream up: the daemon coalesces progress and may drop
// events for a slow client, and a campaign's end must never be missed.
const (
	watchPoll      = 10 * time.Second
	watchRedialMax = 10 * time.Second
)

func (a *app) watchCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "watch CAMPAIGN",
		Short: "Follow a campaign live until it completes or stops",
		Long: `watch follows the campaign over dialerd's live stream (GET /ws): a progress
bar of done/total and the outcome counts (answered, failed, in flight,
pending) on stderr, and the final counts on stdout. It reconnects when the
stream drops and checks the campaign every 10 s besides.

It exits 0 when the campaign completes and 5 when it stops (or is not
running when watch starts). With --json it prints the final campaign as
JSON instead of the summary line.`,
		Args: args(1, "CAMPAIGN (an id)"),
		RunE: func(c *cobra.Command, argv []string) error { return a.watch(c.Context(), argv[0]) },
	}
}

func (a *app) watch(ctx context.Context, arg string) error {
	id, err := campaignID(arg)
	if err != nil {
		return err
	}
	c, err := a.client(true)
	if err != nil {
		return err
	}
	// Subscribe first, then read the campaign: nothing that happens in
	// between is missed.
	events, stopStream := a.stream(ctx, c, id)
	defer stopStream()
	k, _, err := a.getCampaign(ctx, c, id)
	if err != nil {
		return err
	}
	bar := a.newBar(k)
	defer bar.Exit()
	if b := k.Blocked; b != nil {
		fmt.Fprintf(a.stderr, "campaign %d cannot dial: %s (fix %s; %s fault)\n", id, printable(b.Reason), printable(b.Field), printable(b.Fault))
	}
	poll := time.NewTicker(watchPoll)
	defer poll.Stop()
	for {
		switch k.Status {
		case "completed", "stopped", "new":
			return a.watchEnd(ctx, c, bar, k, nil)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-events:
			switch {
			case ev.err != nil:
				if exitCode(ev.err) == exitAuth {
					return ev.err // redialling with a refused token cannot help
				}
				// The stream says why it dropped and redials by itself.
				bar.Clear()
				fmt.Fprintf(a.stderr, "live stream: %v; reconnecting\n", ev.err)
				continue
			case ev.reconnected:
				// Whatever happened while disconnected is read back.
			case ev.CampaignID != id:
				continue
			case ev.Type == "campaign.progress" && ev.Counters != nil:
				k.Counters = *ev.Counters
				a.drawBar(bar, k)
				continue
			case ev.Type == "campaign.blocked":
				bar.Clear()
				fmt.Fprintf(a.stderr, "campaign %d cannot dial: %s (fix %s; %s fault)\n", id, printable(ev.Response), printable(ev.Field), printable(ev.Fault))
				continue
			case ev.Type == "campaign.unblocked":
				bar.Clear()
				fmt.Fprintf(a.stderr, "campaign %d dials again\n", id)
				continue
			case ev.Type == "campaign.paused" || ev.Type == "campaign.resumed":
				bar.Clear()
				fmt.Fprintf(a.stderr, "campaign %d %s (calling window)\n", id, strings.TrimPrefix(ev.Type, "campaign."))
				continue
			case ev.Type == "campaign.completed" || ev.Type == "campaign.stopped":
				// The event can come before the store shows the new status:
				// the end is the event's, the final record is read back.
				k.Status = strings.TrimPrefix(ev.Type, "campaign.")
				return a.watchEnd(ctx, c, bar, k, nil)
			default:
				continue
			}
		case <-poll.C:
		}
		if k, _, err = a.getCampaign(ctx, c, id); err != nil {
			return err
		}
		a.drawBar(bar, k)
	}
}

// watchEnd prints the campaign's final state. The record is read back
// from the API, a few times while it does not show the status k has yet
// (the engine publishes the end before its store write is visible); the
// counters of the last progress event stand in if it never does.
func (a *app) watchEnd(ctx context.Context, c *client, bar *progressbar.ProgressBar, k campaign, raw json.RawMessage) error {
	for try := 0; try < 25; try++ {
		got, gotRaw, err := a.getCampaign(ctx, c, k.ID)
		if err != nil {
			return err
		}
		if got.Status == k.Status {
			k, raw = got, gotRaw
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	a.drawBar(bar, k)
	_ = bar.Finish()
	if a.stderrTerminal && !a.jsonOut {
		fmt.Fprintln(a.stderr)
	}
	var err error
	switch {
	case a.jsonOut && raw != nil:
		err = writeJSON(a.stdout, raw)
	case a.jsonOut:
		err = writeJSON(a.stdout, k)
	default:
		fmt.Fprintf(a.stdout, "campaign %d %s: %s\n", k.ID, k.Status, k.Counters)
	}
	if err != nil || k.Status == "completed" {
		return err
	}
	return &partialError{fmt.Sprintf("campaign %d is %s, not completed", k.ID, k.Status)}
}

// newBar draws done/total on stderr when it is a terminal (and not --json).
func (a *app) newBar(k campaign) *progressbar.ProgressBar {
	w := a.stderr
	if !a.stderrTerminal || a.jsonOut {
		w = io.Discard
	}
	bar := progressbar.NewOptions64(max(k.Counters.Total, 1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	a.drawBar(bar, k)
	return bar
}

func (a *app) drawBar(bar *progressbar.ProgressBar, k campaign) {
	if t := max(k.Counters.Total, 1); t != bar.GetMax64() {
		bar.ChangeMax64(t)
	}
	bar.Describe(fmt.Sprintf("campaign %d %s: answered %d, failed %d, in flight %d, pending %d",
		k.ID, k.Status, k.Counters.Answered, k.Counters.Failed, k.Counters.InFlight, k.Counters.Pending))
	_ = bar.Set64(k.Counters.Done)
}

// streamed is an event, or word that the stream dropped (err) or is back.
type streamed struct {
	event
	err         error
	reconnected bool
}

// stream follows GET /ws for one campaign until ctx ends or stop is
// called, redialling with back-off when the connection drops. The token
// travels in the Authorization header, never in the URL.
func (a *app) stream(ctx context.Context, c *client, id int64) (<-chan streamed, func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan streamed, 64)
	connected := make(chan struct{})
	go func() {
		first := true
		backoff := time.Second
		for ctx.Err() == nil {
			err := a.streamOnce(ctx, c, id, out, func() {
				if first {
					close(connected)
					first = false
				} else {
					send(ctx, out, streamed{reconnected: true})
				}
				backoff = time.Second
			})
			if ctx.Err() != nil {
				break
			}
			if first {
				close(connected) // watch polls meanwhile
				first = false
			}
			send(ctx, out, streamed{err: err})
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, watchRedialMax)
		}
	}()
	// Wait briefly for the subscription, so the first read of the campaign
	// comes after it; a daemon without /ws is polled.
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return out, cancel
}

func send(ctx context.Context, out chan<- streamed, s streamed) {
	select {
	case out <- s:
	case <-ctx.Done():
	}
}

// streamOnce runs one connection; subscribed is called once the filter is sent.
func (a *app) streamOnce(ctx context.Context, c *client, id int64, out chan<- streamed, subscribed func()) error {
	wsURL := "ws" + strings.TrimPrefix(c.base, "http") + "/ws"
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	hdr := http.Header{"Authorization": {"Bearer " + c.token}, "User-Agent": {"dialerctl"}}
	conn, res, err := dialer.DialContext(ctx, wsURL, hdr)
	if err != nil {
		if res != nil {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			return newAPIError(http.MethodGet, "/ws", res.StatusCode, body)
		}
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.WriteJSON(map[string]any{"subscribe": map[string]int64{"campaign_id": id}}); err != nil {
		return err
	}
	subscribed()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		var ev event
		if json.Unmarshal(data, &ev) != nil {
			continue
		}
		send(ctx, out, streamed{event: ev})
	}
}
