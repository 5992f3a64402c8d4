package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// profileHook is added to package main of cmd/dialerd for -pprof runs by a
// build overlay (go build -overlay): the source tree is not touched and
// the daemon as shipped has no profiling endpoint. Blocking of 1 ms and
// more is sampled, and one mutex contention in ten.
const profileHook = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"time"
)

func init() {
	addr := os.Getenv("DIALERBENCH_PPROF")
	if addr == "" {
		return
	}
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(10)
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
`

// buildProfiled builds dialerd with the profiling hook into dir and
// returns the binary. It runs in the module (the current directory, as
// with go run ./cmd/dialerbench).
func buildProfiled(ctx context.Context, dir string) (string, error) {
	main, err := filepath.Abs("cmd/dialerd/zz_dialerbench_pprof.go")
	if err != nil {
		return "", err
	}
	hook := filepath.Join(dir, "pprof_hook.go")
	if err := os.WriteFile(hook, []byte(profileHook), 0o600); err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, fmt.Appendf(nil, `{"Replace": {%q: %q}}`, main, hook), 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dialerd-pprof")
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlay, "-o", bin, "./cmd/dialerd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building dialerd with pprof (run from the module's root): %w\n%s", err, out)
	}
	return bin, nil
}

// collectProfiles fetches, after wait, a CPU profile of span, then the
// block, mutex and goroutine profiles, into dir/profiles.
func collectProfiles(ctx context.Context, addr, out string, wait, span time.Duration, logf func(string, ...any)) {
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		logf("profiles: %v", err)
		return
	}
	c := &http.Client{Timeout: span + 30*time.Second}
	for _, p := range []struct{ name, path string }{
		{"cpu.pprof", "/debug/pprof/profile?seconds=" + strconv.Itoa(int(span.Seconds()))},
		{"heap.pprof", "/debug/pprof/heap"},
		{"allocs.pprof", "/debug/pprof/allocs"},
		{"block.pprof", "/debug/pprof/block"},
		{"mutex.pprof", "/debug/pprof/mutex"},
		{"goroutine.txt", "/debug/pprof/goroutine?debug=2"},
	} {
		if err := fetch(ctx, c, "http://"+addr+p.path, filepath.Join(out, p.name)); err != nil {
			logf("profile %s: %v", p.name, err)
		}
	}
	logf("profiles in %s", out)
}

func fetch(ctx context.Context, c *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, res.Body)
	return errors.Join(err, f.Close())
}

// pprofAddr is a free loopback address for the hook.
func pprofAddr() (string, error) {
	p, err := e2e.FreeTCPPort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}
