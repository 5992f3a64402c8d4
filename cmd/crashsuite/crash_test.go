package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// shortSeed is the seed of the short suite unless CRASH_SEED says otherwise.
const shortSeed = 20261207

// TestCrashShort is the short seeded crash suite `make test` runs: one
// campaign through each gateway, 50 numbers, dialerd killed three times
// in each, every invariant checked (see the package comment).
// `make crash` runs the long one.
//
//	go test ./cmd/crashsuite -run TestCrashShort -v
func TestCrashShort(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp is needed (make test-deps):", err)
	}
	bin := filepath.Join(t.TempDir(), "dialerd")
	build := exec.Command("go", "build", "-o", bin, "github.com/dialerd/dialerd/cmd/dialerd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building dialerd: %v\n%s", err, out)
	}
	cfg := defaultConfig()
	cfg.Dialerd, cfg.Scenario = bin, "../../testdata/sipp/crash_uas.xml"
	cfg.Seed = shortSeed
	if s := os.Getenv("CRASH_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED %q: %v", s, err)
		}
		cfg.Seed = n
	}
	cfg.SIPRuns, cfg.FSRuns, cfg.Kills, cfg.Numbers, cfg.CPM = 1, 1, 3, 50, 600
	cfg.Recording, cfg.UpMax, cfg.DownMax, cfg.Settle = time.Second, 2*time.Second, time.Second, 35*time.Second
	var log bytes.Buffer
	cfg.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var out bytes.Buffer
	results := suite(ctx, cfg, &out)
	t.Logf("\n%s\n%s", log.String(), out.String())
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s run (seed %d) failed: %v\n%s", r.Gateway, r.Seed, r.Err, log.String())
		} else if n := r.violations(); n > 0 {
			t.Errorf("%s run (seed %d): %d violations; replay with CRASH_SEED=%d", r.Gateway, r.Seed, n, cfg.Seed)
		}
	}
	if len(results) != 2 {
		t.Errorf("%d runs, want 2", len(results))
	}
}
