package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
	"github.com/dialerd/dialerd/esl/esltest"
)

// farEnd is who the campaign calls, and the record of what it saw.
type farEnd interface {
	// sip is whether dialerd needs its SIP gateway.
	sip() bool
	// provider creates, through the API, what the campaign dials through.
	provider(ctx context.Context, d *e2e.Dialerd, cps, channels int) error
	// quiet reports whether no call is up at the far end any more.
	quiet() bool
	// calls stops recording and returns every call it saw.
	calls() ([]wireCall, error)
	close()
}

// behaviour is what the callee of a number does, by its last digit, the
// same for both far ends (testdata/sipp/crash_uas.xml):
// 0-5 answer, 6-7 busy, 8-9 ring until cancelled or timed out.
func behaviour(number string) string {
	switch d := number[len(number)-1]; {
	case d <= '5':
		return "answer"
	case d <= '7':
		return "busy"
	default:
		return "ringout"
	}
}

// sipFarEnd is SIPp as the UAS of testdata/sipp/crash_uas.xml.
type sipFarEnd struct {
	s *e2e.SIPp
}

func newSIPFarEnd(ctx context.Context, bin, scenario, dir string, ring time.Duration) (*sipFarEnd, error) {
	s, err := e2e.StartSIPp(ctx, e2e.SIPpOptions{Bin: bin, Dir: dir, Scenario: scenario,
		// No BYE from SIPp when it is stopped: what is open stays visible.
		Args: []string{"-d", strconv.Itoa(int(ring.Milliseconds())), "-default_behaviors", "all,-bye", "-max_recv_loops", "10000"}})
	if err != nil {
		return nil, err
	}
	return &sipFarEnd{s: s}, nil
}

func (f *sipFarEnd) sip() bool { return true }

func (f *sipFarEnd) provider(ctx context.Context, d *e2e.Dialerd, cps, channels int) error {
	_, err := d.API.SIPProvider(ctx, "sipp", "127.0.0.1", f.s.Port, cps, channels)
	return err
}

// quiet: every answered and confirmed dialog has had its BYE and no
// call is ringing without a final answer.
func (f *sipFarEnd) quiet() bool {
	tr, err := f.s.Trace()
	if err != nil {
		return false
	}
	for _, c := range tr.Calls() {
		if c.Answered && c.ACKed && c.Byes == 0 {
			return false
		}
		if !c.Answered && c.Final == 0 && c.Ringing {
			return false
		}
	}
	return true
}

func (f *sipFarEnd) calls() ([]wireCall, error) {
	// SIGINT: SIPp writes what it has and ends; its calls are aborted
	// without BYE (-default_behaviors all,-bye).
	_ = f.s.Proc.Stop(syscall.SIGINT, 5*time.Second)
	tr, err := f.s.Trace()
	if err != nil {
		return nil, fmt.Errorf("SIPp message log: %w", err)
	}
	var out []wireCall
	for _, c := range tr.Calls() {
		out = append(out, wireCall{ID: c.CallID, Number: bare(c.Number), At: c.Invited, Answered: c.Answered,
			AnsweredAt: c.AnsweredAt, Open: c.Answered && c.ACKed && c.Byes == 0})
	}
	return out, nil
}

func (f *sipFarEnd) close() {
	if !f.s.Proc.Exited() {
		_ = f.s.Proc.Stop(syscall.SIGKILL, 5*time.Second)
	}
}

// fsFarEnd is the fake FreeSWITCH (esl/esltest) in this process, and an
// Event Socket client of its own that records every channel's events as
// a second client of a real FreeSWITCH would.
type fsFarEnd struct {
	srv      *esltest.Server
	password string
	// pinned makes the provider name the node (node_id); otherwise the
	// gateway picks one, and nothing but the spool says where a call ran.
	pinned bool
	obs    net.Conn
	done   chan struct{}

	mu       sync.Mutex
	channels map[string]*wireCall
	order    []string
	readErr  error
}

func newFSFarEnd(ctx context.Context, numbers []string, ring, talk time.Duration, pinned bool) (*fsFarEnd, error) {
	f := &fsFarEnd{password: "Crash-Suite-1", pinned: pinned, done: make(chan struct{}), channels: map[string]*wireCall{}}
	f.srv = esltest.New(esltest.Options{Password: f.password})
	if err := f.srv.Start(ctx); err != nil {
		return nil, err
	}
	for _, n := range numbers {
		var b esltest.Behaviour
		switch d := n[len(n)-1]; {
		case behaviour(n) == "answer" && d <= '3':
			b = esltest.Answer(ring, talk) // FreeSWITCH ends it when the playback ends
		case behaviour(n) == "answer":
			b = esltest.Answer(ring, 0) // up until dialerd hangs up (max_duration)
		case behaviour(n) == "busy":
			b = esltest.Busy()
		default:
			b = esltest.NoAnswer(0) // until the originate timeout dialerd sets
		}
		// One step: it stays, so a retry meets the same callee.
		f.srv.Script(bare(n), b)
	}
	if err := f.observe(ctx); err != nil {
		f.srv.Close()
		return nil, err
	}
	return f, nil
}

// observe connects, authenticates and subscribes to the channel events.
func (f *fsFarEnd) observe(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", f.srv.Addr())
	if err != nil {
		return err
	}
	r := bufio.NewReader(c)
	expect := func(send, want string) error {
		if send != "" {
			if _, err := c.Write([]byte(send + "\n\n")); err != nil {
				return err
			}
		}
		fr, err := esltest.ReadFrame(r)
		if err != nil {
			return err
		}
		if got := fr.ContentType() + " " + fr.Get("Reply-Text"); !strings.Contains(got, want) {
			return fmt.Errorf("event socket: %q, want %q", got, want)
		}
		return nil
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := errors.Join(expect("", "auth/request"), expect("auth "+f.password, "+OK"),
		expect("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE", "+OK")); err != nil {
		c.Close()
		return fmt.Errorf("observer: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	f.obs = c
	go f.read(r)
	return nil
}

func (f *fsFarEnd) read(r *bufio.Reader) {
	defer close(f.done)
	for {
		fr, err := esltest.ReadFrame(r)
		if err != nil {
			f.mu.Lock()
			f.readErr = err
			f.mu.Unlock()
			return
		}
		if fr.ContentType() != "text/event-plain" {
			continue
		}
		ev, err := esltest.ParseEventPlain(fr.Body)
		if err != nil {
			continue
		}
		now := time.Now()
		id := ev.Get("Unique-ID")
		f.mu.Lock()
		c := f.channels[id]
		if c == nil {
			c = &wireCall{ID: id, Number: bare(ev.Get("Caller-Destination-Number")), At: now, Open: true}
			f.channels[id] = c
			f.order = append(f.order, id)
		}
		switch ev.Name() {
		case "CHANNEL_ANSWER":
			c.Answered, c.AnsweredAt = true, now
		case "CHANNEL_HANGUP_COMPLETE":
			c.Open = false
		}
		f.mu.Unlock()
	}
}

func (f *fsFarEnd) sip() bool { return false }

func (f *fsFarEnd) provider(ctx context.Context, d *e2e.Dialerd, cps, channels int) error {
	tenant, err := tokenTenant(d.API.Token)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(f.srv.Addr())
	p, _ := strconv.Atoi(port)
	var created struct {
		Data struct {
			ID json.Number `json:"id"`
		} `json:"data"`
	}
	if err := d.API.Do(ctx, http.MethodPost, "/api/v1.0/customers/"+tenant+"/pbxs", map[string]any{
		"_type": "FreeSwitchConnectionProfile", "name": "fake-fs", "host": host, "port": p,
		"password": f.password, "sps": cps + 1, "maxSessions": channels, "enabled": true,
	}, "", &created); err != nil {
		return err
	}
	nodeID, err := created.Data.ID.Int64()
	if err != nil {
		return fmt.Errorf("PBX profile id %q: %w", created.Data.ID, err)
	}
	body := map[string]any{
		"name": "trunk-1", "type": "sip", "gateway_flag": 1, "service_flag": 1, "host": "sip.example.com",
		"settings": fmt.Sprintf(`{"cps": %d, "channels": %d, "allow_anonymous": true}`, cps, channels), "weight": 1, "active": 1,
	}
	if f.pinned {
		body["node_id"] = nodeID
	}
	_, err = d.API.Create(ctx, http.MethodPost, "/providers", body, "provider_id")
	return err
}

func (f *fsFarEnd) quiet() bool { return len(f.srv.Channels()) == 0 }

func (f *fsFarEnd) calls() ([]wireCall, error) {
	// The live channels are the open ones whatever the observer saw.
	live := map[string]bool{}
	for _, ch := range f.srv.Channels() {
		live[ch.UUID] = true
	}
	f.obs.Close()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wireCall
	seen := map[string]bool{}
	for _, id := range f.order {
		c := *f.channels[id]
		c.Open = c.Open || live[id]
		out = append(out, c)
		seen[id] = true
	}
	// An originate the observer saw no channel of (refused before its
	// CHANNEL_CREATE) still reached FreeSWITCH: count it as a call.
	for _, o := range f.srv.Originates() {
		if !seen[o.UUID] {
			out = append(out, wireCall{ID: o.UUID, Number: bare(o.Destination), Open: live[o.UUID]})
		}
	}
	return out, nil
}

func (f *fsFarEnd) close() { f.srv.Close() }

// tokenTenant reads the tenant id ("tid") from a JWT's claims.
func tokenTenant(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("the API token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("JWT claims: %w", err)
	}
	var claims struct {
		TID string `json:"tid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.TID == "" {
		return "", fmt.Errorf("no tenant in the JWT claims (%v)", err)
	}
	return claims.TID, nil
}
