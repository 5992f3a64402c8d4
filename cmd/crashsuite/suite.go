package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// config is one invocation of the suite.
type config struct {
	Dialerd  string // the binary
	SIPp     string
	Scenario string // testdata/sipp/crash_uas.xml
	Seed     int64
	SIPRuns  int
	FSRuns   int
	Kills    int // per run
	Numbers  int // per run
	CPM      int
	// Recording is what an answered call plays; Ring is how long a callee
	// rings before answering; RingTimeout is dialerd's engine.ring_timeout
	// (the ring-out callees are cancelled after it) and MaxDuration its
	// engine.max_duration (FreeSWITCH callees that never hang up are
	// hung up after it).
	Recording   time.Duration
	Ring        time.Duration
	RingTimeout time.Duration
	MaxDuration time.Duration
	// Up and Down bound the random time dialerd runs between a (re)start
	// and the next kill, and stays dead after a kill.
	UpMin, UpMax     time.Duration
	DownMin, DownMax time.Duration
	// Settle is how long, after the last restart, the campaign has to
	// complete and the far end to go quiet before the check.
	Settle time.Duration
	Keep   bool // keep the work directories
	Log    io.Writer
}

func (c config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// runs is every run the configuration asks for, each with its own seed
// derived from the suite's so that one run can be replayed alone.
func (c config) runs() []runSpec {
	var out []runSpec
	for i := range c.SIPRuns + c.FSRuns {
		// FreeSWITCH runs alternate: the provider pins the node, then not
		// (the gateway picks it).
		g := "sip"
		switch fs := i - c.SIPRuns; {
		case fs >= 0 && fs%2 == 0:
			g = "fs-pinned"
		case fs >= 0:
			g = "fs-any"
		}
		out = append(out, runSpec{gateway: g, seed: c.Seed + int64(i)})
	}
	return out
}

type runSpec struct {
	gateway string
	seed    int64
}

// run carries out one campaign with kills, and checks it.
func run(ctx context.Context, cfg config, spec runSpec) (res result) {
	res = result{Gateway: spec.gateway, Seed: spec.seed}
	rng := rand.New(rand.NewPCG(uint64(spec.seed), 0x63726173685f7375)) // "crash_su"
	dir, err := os.MkdirTemp("", "crashsuite-"+spec.gateway+"-")
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		if cfg.Keep || res.Err != nil || res.violations() > 0 {
			cfg.logf("%s seed %d: work directory kept: %s", spec.gateway, spec.seed, dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()

	numbers := e2e.NANPNumbers(cfg.Numbers)
	var far farEnd
	switch spec.gateway {
	case "sip":
		far, err = newSIPFarEnd(ctx, cfg.SIPp, cfg.Scenario, dir, cfg.Ring)
	default:
		far, err = newFSFarEnd(ctx, numbers, cfg.Ring, cfg.Recording, spec.gateway == "fs-pinned")
	}
	if err != nil {
		res.Err = err
		return res
	}
	defer far.close()

	cps := max(2, (cfg.CPM+59)/60*2)
	channels := max(50, cfg.Numbers)
	d, err := e2e.NewDialerd(cfg.Dialerd, dir, far.sip(),
		"DIALERD_ENGINE_RING_TIMEOUT="+cfg.RingTimeout.String(),
		"DIALERD_ENGINE_MAX_DURATION="+cfg.MaxDuration.String(),
		"DIALERD_ENGINE_PROVIDER_CPS="+strconv.Itoa(cps),
		"DIALERD_ENGINE_NODE_CPS="+strconv.Itoa(cps),
		"DIALERD_ENGINE_PROVIDER_CHANNELS="+strconv.Itoa(channels),
		"DIALERD_ENGINE_TENANT_CHANNELS="+strconv.Itoa(channels),
		// A failing provider is not skipped for long: the suite is about
		// crashes, not back-off.
		"DIALERD_ENGINE_PROVIDER_BACKOFF=1s",
		"DIALERD_ENGINE_PROVIDER_BACKOFF_MAX=2s",
	)
	if err != nil {
		res.Err = err
		return res
	}
	if err := d.Start(ctx); err != nil {
		res.Err = err
		return res
	}
	defer func() { _ = d.Stop(3 * time.Second) }()

	campaignID, err := setup(ctx, cfg, d, far, numbers, cps, channels)
	if err != nil {
		res.Err = err
		return res
	}
	path := "/campaigns/" + strconv.FormatInt(campaignID, 10)
	if err := d.API.Do(ctx, http.MethodPut, path+"/start", nil, "", nil); err != nil {
		res.Err = err
		return res
	}
	start := time.Now()

	for k := range cfg.Kills {
		up := uniform(rng, cfg.UpMin, cfg.UpMax)
		down := uniform(rng, cfg.DownMin, cfg.DownMax)
		if !sleep(ctx, up) {
			res.Err = ctx.Err()
			return res
		}
		d.Proc.Kill()
		res.Kills++
		cfg.logf("%s seed %d: kill %d/%d at +%.2fs (up %.2fs), down %.2fs", spec.gateway, spec.seed, k+1, cfg.Kills,
			time.Since(start).Seconds(), up.Seconds(), down.Seconds())
		if !sleep(ctx, down) {
			res.Err = ctx.Err()
			return res
		}
		if err := d.Start(ctx); err != nil {
			res.Err = fmt.Errorf("restart %d: %w", k+1, err)
			return res
		}
	}

	// Let the campaign finish and the far end go quiet, within Settle.
	deadline := time.Now().Add(cfg.Settle)
	var camp e2e.Campaign
	for {
		err := d.API.Do(ctx, http.MethodGet, path, nil, "", &camp)
		if err == nil && camp.Status == "completed" && far.quiet() {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cfg.logf("%s seed %d: not settled %s after the last restart: campaign %s %+v, far end quiet %v",
				spec.gateway, spec.seed, cfg.Settle, camp.Status, camp.Counters, far.quiet())
			break
		}
		sleep(ctx, 250*time.Millisecond)
	}

	st, err := readState(ctx, d, campaignID)
	if err != nil {
		res.Err = err
		return res
	}
	calls, err := far.calls()
	if err != nil {
		res.Err = err
		return res
	}
	check(&res, calls, st)
	return res
}

func setup(ctx context.Context, cfg config, d *e2e.Dialerd, far farEnd, numbers []string, cps, channels int) (int64, error) {
	if err := far.provider(ctx, d, cps, channels); err != nil {
		return 0, err
	}
	progID, err := d.API.VoiceProgram(ctx, "crash voicemessage", cfg.Recording)
	if err != nil {
		return 0, err
	}
	groupID, err := d.API.Group(ctx, "crash contacts", numbers)
	if err != nil {
		return 0, err
	}
	// Two tries, retried after a second: a busy callee is called again,
	// which is allowed; an answered one must never be.
	return d.API.Create(ctx, http.MethodPost, "/campaigns", map[string]any{
		"program_id": progID, "group_id": groupID, "cpm": cfg.CPM, "try_allowed": 2, "retry_delay": 1,
		// It calls its own far end, not people: the tenant's calling hours
		// must not hold it back at night.
		"window_override": true,
	}, "campaign_id")
}

// readState reads the campaign, its group's contacts, its transmissions
// and their spools, as the API gives them.
func readState(ctx context.Context, d *e2e.Dialerd, campaignID int64) (apiState, error) {
	var st apiState
	var camp struct {
		e2e.Campaign
		GroupID int64 `json:"group_id"`
	}
	if err := d.API.Do(ctx, http.MethodGet, "/campaigns/"+strconv.FormatInt(campaignID, 10), nil, "", &camp); err != nil {
		return st, err
	}
	st.Campaign = camp.Campaign
	var err error
	if st.Contacts, err = d.API.GroupContacts(ctx, camp.GroupID); err != nil {
		return st, err
	}
	if st.Txs, err = d.API.Transmissions(ctx, campaignID); err != nil {
		return st, err
	}
	st.Spools, err = d.API.Spools(ctx, st.Txs)
	return st, err
}

func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// sleep waits d unless ctx ends first; it reports whether it slept.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
