package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// apiLoad is N dashboard-like clients hammering the API while the
// campaign dials: each, in a loop with a random think time, sends one
// request of a realistic mix — mostly reads of the campaign, its
// transmissions and contacts, and a tenth small writes (a contact created,
// then updated) that queue on SQLite's one writer with the engine's
// commits.
type apiLoad struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	lat     []float64 // ms, answered 2xx
	byOp    map[string][]float64
	errs    int
	errText map[string]int
}

// loadTarget is what the clients read and write.
type loadTarget struct {
	campaignID, groupID int64
	contacts            int // in the group
}

// clientState is what one client keeps between its requests.
type clientState struct {
	contact  int64 // the contact it created, then updates
	exchange int   // its own exchange of +1556 numbers
}

// op is one kind of request of the mix, with its weight.
type op struct {
	name   string
	weight int
	do     func(ctx context.Context, c *e2e.Client, rng *rand.Rand, t loadTarget, scratch *clientState) error
}

func loadMix() []op {
	get := func(path string) func(context.Context, *e2e.Client, *rand.Rand, loadTarget, *clientState) error {
		return func(ctx context.Context, c *e2e.Client, _ *rand.Rand, _ loadTarget, _ *clientState) error {
			return c.Do(ctx, http.MethodGet, path, nil, "", nil)
		}
	}
	return []op{
		{"GET /campaigns/{id}", 35, func(ctx context.Context, c *e2e.Client, _ *rand.Rand, t loadTarget, _ *clientState) error {
			return c.Do(ctx, http.MethodGet, "/campaigns/"+strconv.FormatInt(t.campaignID, 10), nil, "", nil)
		}},
		{"GET /campaigns", 10, get("/campaigns")},
		{"GET /transmissions?campaign_id", 20, func(ctx context.Context, c *e2e.Client, rng *rand.Rand, t loadTarget, _ *clientState) error {
			page := 1 + rng.IntN(max(1, t.contacts/50))
			return c.Do(ctx, http.MethodGet, fmt.Sprintf("/transmissions?campaign_id=%d&per_page=50&page=%d", t.campaignID, page), nil, "", nil)
		}},
		{"GET /groups/{id}/contacts", 10, func(ctx context.Context, c *e2e.Client, rng *rand.Rand, t loadTarget, _ *clientState) error {
			page := 1 + rng.IntN(max(1, t.contacts/50))
			return c.Do(ctx, http.MethodGet, fmt.Sprintf("/groups/%d/contacts?per_page=50&page=%d", t.groupID, page), nil, "", nil)
		}},
		{"GET /providers", 5, get("/providers")},
		{"GET /programs", 5, get("/programs")},
		{"POST|PUT /contacts", 15, func(ctx context.Context, c *e2e.Client, rng *rand.Rand, _ loadTarget, scratch *clientState) error {
			// Numbers outside the campaign's (+1555...): +1556, then
			// the client's own exchange (200-999, as NANP wants), so that
			// no two clients ever pick the same number: a collision is a
			// correct 409 from dialerd, not an error of the load.
			phone := fmt.Sprintf("+1556%03d%04d", scratch.exchange, rng.IntN(10_000))
			if scratch.contact == 0 {
				id, err := c.Create(ctx, http.MethodPost, "/contacts", map[string]any{"phone": phone, "first_name": "load"}, "contact_id")
				scratch.contact = id
				return err
			}
			return c.Do(ctx, http.MethodPut, "/contacts/"+strconv.FormatInt(scratch.contact, 10), map[string]any{"phone": phone, "first_name": "load"}, "", nil)
		}},
	}
}

// startAPILoad logs in (a few tokens, shared round-robin: a login is a
// bcrypt hash, and dashboards log in once) and starts n clients.
func startAPILoad(ctx context.Context, base, password string, n int, think time.Duration, t loadTarget, seed uint64) (*apiLoad, error) {
	l := &apiLoad{stop: make(chan struct{}), byOp: map[string][]float64{}, errText: map[string]int{}}
	tokens := make([]string, min(n, 8))
	for i := range tokens {
		c := e2e.NewClient(base)
		if err := c.Login(ctx, "admin", password); err != nil {
			return nil, fmt.Errorf("API load login: %w", err)
		}
		tokens[i] = c.Token
	}
	mix := loadMix()
	total := 0
	for _, o := range mix {
		total += o.weight
	}
	// One transport for all: each client holds one keep-alive connection
	// as a browser tab would.
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, IdleConnTimeout: time.Minute}
	for i := range n {
		c := &e2e.Client{Base: base, Token: tokens[i%len(tokens)], HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		l.wg.Go(func() {
			scratch := clientState{exchange: 200 + i%800}
			for {
				select {
				case <-l.stop:
					return
				case <-time.After(time.Duration(rng.Int64N(int64(2*think) + 1))):
				}
				pick := rng.IntN(total)
				var o op
				for _, o = range mix {
					if pick -= o.weight; pick < 0 {
						break
					}
				}
				t0 := time.Now()
				err := o.do(ctx, c, rng, t, &scratch)
				d := ms(time.Since(t0))
				l.mu.Lock()
				if err != nil {
					l.errs++
					l.errText[errKind(err)]++
				} else {
					l.lat = append(l.lat, d)
					l.byOp[o.name] = append(l.byOp[o.name], d)
				}
				l.mu.Unlock()
			}
		})
	}
	return l, nil
}

// errKind groups errors for the report: the status for API errors.
func errKind(err error) string {
	var ae *e2e.APIError
	if errors.As(err, &ae) {
		return ae.Method + " " + strconv.Itoa(ae.Status)
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout") {
		return "timeout"
	}
	return "transport"
}

// loadReport is what the clients saw.
type loadReport struct {
	Clients  int                  `json:"clients"`
	ThinkMS  float64              `json:"think_time_mean_ms"`
	All      latencies            `json:"all"`
	PerOp    map[string]latencies `json:"per_request"`
	RPS      float64              `json:"requests_per_second"`
	ErrKinds map[string]int       `json:"errors_by_kind,omitempty"`
}

// finish stops the clients and summarises.
func (l *apiLoad) finish(n int, think, span time.Duration) loadReport {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := loadReport{Clients: n, ThinkMS: ms(think), All: summarise(l.lat, l.errs), PerOp: map[string]latencies{}, ErrKinds: l.errText}
	for name, xs := range l.byOp {
		r.PerOp[name] = summarise(xs, 0)
	}
	if span > 0 {
		r.RPS = float64(len(l.lat)+l.errs) / span.Seconds()
	}
	return r
}

// startStress runs stress-ng --cpu 2 beside the benchmark for up to d.
func startStress(dir string, d time.Duration) (*e2e.Child, error) {
	bin, err := exec.LookPath("stress-ng")
	if err != nil {
		return nil, fmt.Errorf("stress-ng not found (Debian package stress-ng): %w", err)
	}
	cmd := exec.Command(bin, "--cpu", "2", "--timeout", strconv.Itoa(int(d.Seconds())+1)+"s", "--quiet")
	return e2e.StartChild("stress-ng", cmd, dir+"/stress-ng.out")
}

func stopStress(c *e2e.Child) {
	if c != nil {
		_ = c.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// udpDrops reads the kernel's drop counter of the UDP socket bound to
// 127.0.0.1:port (the last column of /proc/net/udp, what `ss -uam` shows
// as d<N> in skmem) and its receive queue now; ok is false when no such
// socket is found.
func udpDrops(port int) (drops, rxQueue int64, ok bool) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	return parseUDPDrops(f, port)
}

// parseUDPDrops reads /proc/net/udp's format: a header line, then one
// line per socket with the local address as hex IP:port (little-endian
// IP), tx_queue:rx_queue in field 5 and drops last.
func parseUDPDrops(r io.Reader, port int) (drops, rxQueue int64, ok bool) {
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 || fields[1] != want {
			continue
		}
		_, rx, _ := strings.Cut(fields[4], ":")
		q, _ := strconv.ParseInt(rx, 16, 64)
		d, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		return d, q, true
	}
	return 0, 0, false
}

// watchRxQueue samples the receive queue of the UDP socket on port every
// interval until the returned function is called; it returns the largest.
func watchRxQueue(port int, interval time.Duration) (largest func() int64) {
	stop, done := make(chan struct{}), make(chan struct{})
	var top int64
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if _, q, ok := udpDrops(port); ok {
				top = max(top, q)
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return top
	}
}
