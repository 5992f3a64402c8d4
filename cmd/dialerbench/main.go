// Command dialerbench is the end-to-end benchmark behind `make bench`.
//
// It starts a SIPp UAS (Debian's sip-tester) and dialerd as child
// processes on 127.0.0.1, and, through dialerd's REST API only, creates a
// SIP provider pointing at SIPp, a recording, a voicemessage program, a
// group of contacts and a campaign, then starts the campaign and measures
// while it dials:
//
//   - the achieved calls per minute against the campaign's cpm, from the
//     first INVITE to the last, and over the middle 80 % of that span;
//   - the spacing of consecutive INVITEs, as the error against 60/cpm
//     seconds: p50, p99, max. INVITEs are stamped twice: by the kernel as
//     the loopback interface carries them (a packet socket with
//     SO_TIMESTAMPNS, which needs root), and by SIPp's message log
//     (-trace_msg, microseconds) when SIPp reads them. The targets are
//     judged on the kernel's stamps, which SIPp's own scheduling on a busy
//     host does not move; without root, on SIPp's;
//   - the calls completed, per SIPp and per the campaign's counters, and
//     that no attempt was lost or doubled: every contact's number INVITEd
//     under exactly one Call-ID, and every transmission completed with one
//     spool whose call UUID is one of those Call-IDs;
//   - dialerd's CPU time (utime+stime from /proc) as a percentage of one
//     core, and its peak resident set (VmHWM);
//   - the latency of GET /campaigns/{id}, sent every -api-interval while
//     the campaign runs;
//   - with -api-clients N, N concurrent clients doing what dashboards do
//     (reads of the campaign, its transmissions and contacts, and small
//     writes), their latency p50/p99/max and errors; with -stress,
//     stress-ng --cpu 2 beside it all;
//   - per Call-ID on the wire: calls SIPp answered that dialerd never
//     processed (no ACK, or a spool not answered: "answered lost"),
//     INVITEs and BYEs dialerd had to send again, and the datagrams the
//     kernel dropped at dialerd's and SIPp's SIP sockets;
//   - SIPp's CPU use and the machine's load average, for context.
//
// It prints a table (figure, target, measured, pass or FAIL) and writes
// the same figures, with the details behind them, as JSON. Every process it
// starts is ended when it finishes, fails or is interrupted. The exit code
// is 0 when every target was met, 1 when the run failed, 3 when it ran but
// missed a target.
//
// Usage:
//
//	go build -o bin/dialerd ./cmd/dialerd
//	go run ./cmd/dialerbench -dialerd bin/dialerd -cpm 6000 -duration 2m -json bench-results/e2e.json
//	go run ./cmd/dialerbench -dialerd bin/dialerd -api-clients 200 -stress -json bench-results/load.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	dialerd     string
	sipp        string
	cpm         int
	duration    time.Duration
	recording   time.Duration
	apiInterval time.Duration
	jsonPath    string
	keep        bool
	apiClients  int
	apiThink    time.Duration
	stress      bool
	seed        uint64
	reference   bool
	pprof       bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dialerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dialerd, "dialerd", "bin/dialerd", "dialerd binary to run")
	fs.StringVar(&o.sipp, "sipp", "sipp", "SIPp binary (Debian package sip-tester)")
	fs.IntVar(&o.cpm, "cpm", 6000, "the campaign's calls per minute (1-60000)")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long to dial: the group has cpm × duration contacts")
	fs.DurationVar(&o.recording, "recording", time.Second, "length of the recording each answered call plays")
	fs.DurationVar(&o.apiInterval, "api-interval", 50*time.Millisecond, "interval of the GET /campaigns/{id} probe while dialing")
	fs.StringVar(&o.jsonPath, "json", "bench-results/e2e.json", "where to write the figures as JSON (empty: do not)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (dialerd's data and log, SIPp's logs) even on success")
	fs.IntVar(&o.apiClients, "api-clients", 0, "concurrent API clients (a mix of GETs and small writes) while dialing; 0: none")
	fs.DurationVar(&o.apiThink, "api-think", 100*time.Millisecond, "mean pause of each API client between requests (uniform from 0 to twice it)")
	fs.BoolVar(&o.stress, "stress", false, "run stress-ng --cpu 2 beside the benchmark while dialing (Debian package stress-ng)")
	fs.BoolVar(&o.pprof, "pprof", false, "build dialerd with a pprof endpoint (a build overlay; run from the module root) and keep CPU, block, mutex and goroutine profiles taken while dialing")
	fs.BoolVar(&o.reference, "reference", true, "after dialerd, run SIPp's own UAC for the same calls at the same rate and report dialerd's CPU and memory per call as a ratio to it")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "seed of the API clients' choices")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.cpm < 1 || o.cpm > 60000 || o.duration < 5*time.Second || o.recording < 100*time.Millisecond || o.apiInterval <= 0 {
		fmt.Fprintln(stderr, "dialerbench: -cpm must be 1-60000, -duration at least 5s, -recording at least 100ms, -api-interval positive")
		return 2
	}
	if n := o.contacts(); n < 2 || n > 8_000_000 {
		fmt.Fprintf(stderr, "dialerbench: cpm × duration gives %d contacts; it must be 2 to 8,000,000\n", n)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "dialerbench-")
	if err != nil {
		fmt.Fprintln(stderr, "dialerbench:", err)
		return 1
	}
	b := &bench{opt: o, dir: dir, log: stderr}
	rep, err := b.run(ctx)
	b.stopAll()
	if err != nil {
		fmt.Fprintln(stderr, "dialerbench:", err)
		fmt.Fprintln(stderr, "dialerbench: logs kept in", dir)
		return 1
	}
	printTable(stdout, rep.Figures)
	fmt.Fprintf(stdout, "\nload average (1 min) at start / end of dialing / after: %.2f / %.2f / %.2f on %d cores; host CPU busy while dialing %.1f%%\n",
		rep.Machine.LoadBefore[0], rep.Machine.LoadAtEnd[0], rep.Machine.LoadAfter[0], rep.Machine.Cores, rep.Machine.HostBusyPercent)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			fmt.Fprintln(stderr, "dialerbench:", err)
			return 1
		}
		fmt.Fprintln(stdout, "figures written to", o.jsonPath)
	}
	if o.keep || o.pprof {
		fmt.Fprintln(stdout, "work directory kept:", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	if missed := failed(rep.Figures); len(missed) > 0 {
		fmt.Fprintf(stdout, "targets missed: %d\n", len(missed))
		return 3
	}
	return 0
}

// contacts is the size of the group: one call per contact.
func (o options) contacts() int {
	return int(int64(o.cpm) * int64(o.duration) / int64(time.Minute))
}

func writeJSON(path string, rep *report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// errInterrupted ends a run stopped by a signal.
var errInterrupted = errors.New("interrupted")
