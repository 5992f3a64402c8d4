// Command crashsuite is the crash suite behind `make crash`: it runs
// campaigns through dialerd's SIP gateway (gateway_flag 8) against SIPp
// and through its FreeSWITCH gateway (gateway_flag 1) against the fake
// FreeSWITCH of esl/esltest, kills dialerd with SIGKILL at random moments
// and restarts it on the same data directory each time, lets the campaign
// finish, and then checks, from the wire and from the API, that
//
//   - no number received more calls (INVITEs, originates) than it has
//     spools (over-dialled);
//   - no number was called again after one of its calls was answered
//     (redialled);
//   - no call is still up at the far end: every answered SIP dialog got
//     its BYE, every FreeSWITCH channel was hung up (left open);
//   - no spool is left initiated;
//   - every contact has exactly one transmission, in a final state (lost);
//   - the campaign's counters equal what its transmissions add up to.
//
// The callees behave by the last digit of their number: 0-5 answer after a
// ring, 6-7 are busy (486), 8-9 ring until cancelled. The moments are drawn
// from a seed, printed first; CRASH_SEED (or -seed) replays a run. One
// line per run, then the exit code: 0 when nothing was violated, 1 when a
// run could not be carried out, 3 on any violation.
//
// Usage:
//
//	make build
//	go run ./cmd/crashsuite -dialerd bin/dialerd
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// defaultConfig is the long suite: 6 runs × 8 kills, 300 numbers each.
func defaultConfig() config {
	return config{
		Dialerd: "bin/dialerd", SIPp: "sipp", Scenario: "testdata/sipp/crash_uas.xml",
		SIPRuns: 3, FSRuns: 3, Kills: 8, Numbers: 300, CPM: 1200,
		Recording: 2 * time.Second, Ring: 300 * time.Millisecond, RingTimeout: 4 * time.Second, MaxDuration: 6 * time.Second,
		UpMin: 300 * time.Millisecond, UpMax: 3 * time.Second, DownMin: 0, DownMax: 1500 * time.Millisecond,
		Settle: 90 * time.Second,
	}
}

func runMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg := defaultConfig()
	cfg.Seed = time.Now().UnixNano() % 1_000_000_000
	if s := getenv("CRASH_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(stderr, "crashsuite: CRASH_SEED is not a number:", s)
			return 2
		}
		cfg.Seed = n
	}
	fs := flag.NewFlagSet("crashsuite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Dialerd, "dialerd", cfg.Dialerd, "dialerd binary to run")
	fs.StringVar(&cfg.SIPp, "sipp", cfg.SIPp, "SIPp binary (Debian package sip-tester)")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "SIPp scenario of the callees")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the kill moments (default: CRASH_SEED, else random); run i uses seed+i")
	fs.IntVar(&cfg.SIPRuns, "sip-runs", cfg.SIPRuns, "runs through the SIP gateway against SIPp")
	fs.IntVar(&cfg.FSRuns, "fs-runs", cfg.FSRuns, "runs through the FreeSWITCH gateway against the fake FreeSWITCH")
	fs.IntVar(&cfg.Kills, "kills", cfg.Kills, "SIGKILLs per run")
	fs.IntVar(&cfg.Numbers, "numbers", cfg.Numbers, "contacts per run")
	fs.IntVar(&cfg.CPM, "cpm", cfg.CPM, "the campaigns' calls per minute")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "after the last restart, how long the campaign has to complete")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directories even when nothing was violated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	results := suite(ctx, cfg, stdout)
	return exitCode(results)
}

// suite runs every run of cfg, printing the seed first and the table of
// results last.
func suite(ctx context.Context, cfg config, stdout io.Writer) []result {
	fmt.Fprintf(stdout, "crash suite seed %d (replay: CRASH_SEED=%d)\n", cfg.Seed, cfg.Seed)
	var results []result
	for _, spec := range cfg.runs() {
		if ctx.Err() != nil {
			break
		}
		cfg.logf("run %s seed %d: %d numbers at %d cpm, %d kills", spec.gateway, spec.seed, cfg.Numbers, cfg.CPM, cfg.Kills)
		results = append(results, run(ctx, cfg, spec))
	}
	printResults(stdout, results)
	return results
}

func printResults(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "gateway\tseed\tkills\tnumbers\tcalls\tanswered\tover-dialled\tredialled\tleft open\tinitiated\tlost\tcounter mismatches\t")
	var sum result
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Gateway, r.Seed, r.Kills, r.Numbers, r.Calls, r.Answered,
			r.OverDialled, r.Redialled, r.LeftOpen, r.Initiated, r.Lost, r.Mismatches)
		sum.Kills += r.Kills
		sum.Numbers += r.Numbers
		sum.Calls += r.Calls
		sum.Answered += r.Answered
		sum.OverDialled += r.OverDialled
		sum.Redialled += r.Redialled
		sum.LeftOpen += r.LeftOpen
		sum.Initiated += r.Initiated
		sum.Lost += r.Lost
		sum.Mismatches += r.Mismatches
	}
	if len(results) > 1 {
		fmt.Fprintf(tw, "all\t\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", sum.Kills, sum.Numbers, sum.Calls, sum.Answered,
			sum.OverDialled, sum.Redialled, sum.LeftOpen, sum.Initiated, sum.Lost, sum.Mismatches)
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "%s seed %d: run failed: %v\n", r.Gateway, r.Seed, r.Err)
		}
		for _, e := range r.Examples {
			fmt.Fprintf(w, "%s seed %d: %s\n", r.Gateway, r.Seed, e)
		}
	}
}

func exitCode(results []result) int {
	code := 0
	for _, r := range results {
		if r.Err != nil {
			return 1
		}
		if r.violations() > 0 {
			code = 3
		}
	}
	return code
}
