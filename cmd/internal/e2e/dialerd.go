package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dialerd runs the daemon on a data directory of its own, with its whole
// configuration in the environment, on ports chosen once so that a
// restart on the same directory is the same daemon to its peers.
type Dialerd struct {
	Bin      string // the binary, absolute
	Dir      string // work directory: data/, dialerd.yaml, dialerd.log
	Password string // the admin's
	APIPort  int
	SIPPort  int // 0: no SIP gateway
	// Env is extra configuration, e.g. "DIALERD_ENGINE_RING_TIMEOUT=5s".
	Env []string

	Proc *Child
	API  *Client
	// Starts counts the processes started.
	Starts int
}

// NewDialerd prepares a daemon in dir: it picks the API port and, when
// sip is set, the SIP gateway's (UDP and TCP). It starts nothing.
func NewDialerd(bin, dir string, sip bool, env ...string) (*Dialerd, error) {
	abs, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("dialerd binary: %w (build it: make build)", err)
	}
	d := &Dialerd{Bin: abs, Dir: dir, Password: rand.Text(), Env: env}
	if d.APIPort, err = FreeTCPPort(); err != nil {
		return nil, err
	}
	if sip {
		if d.SIPPort, err = FreeUDPPorts(1, true); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// LogPath is the daemon's log: every start appends to it.
func (d *Dialerd) LogPath() string { return filepath.Join(d.Dir, "dialerd.log") }

// DataDir is the daemon's data directory.
func (d *Dialerd) DataDir() string { return filepath.Join(d.Dir, "data") }

// Start runs the daemon and waits until its API is ready and the admin
// has logged in. It may be called again after the process has gone (a
// kill): the new process works on the same data directory.
func (d *Dialerd) Start(ctx context.Context) error {
	if d.Proc != nil && !d.Proc.Exited() {
		return errors.New("dialerd is running")
	}
	// An empty file, so that no /etc/dialerd/dialerd.yaml on this host
	// changes what is run.
	cfgFile := filepath.Join(d.Dir, "dialerd.yaml")
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		return err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DIALERD_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"DIALERD_CONFIG="+cfgFile,
		// The API port is chosen here rather than 0, so that dialerd can
		// log at warn level (its "listening" line is at info).
		"DIALERD_LISTEN=127.0.0.1:"+strconv.Itoa(d.APIPort),
		"DIALERD_DATA_DIR="+d.DataDir(),
		"DIALERD_ADMIN_PASSWORD="+d.Password,
		"DIALERD_LOG_LEVEL=warn",
		// The far ends are SIPp on loopback, and the tests run at any hour:
		// no calling-hours default (a test of calling hours sets its own).
		"DIALERD_COMPLIANCE_DEFAULT_WINDOW=00:00-24:00",
		"DIALERD_SHUTDOWN_GRACE=15s",
		"DIALERD_ENGINE_GATEWAY=live",
	)
	if d.SIPPort != 0 {
		env = append(env, "DIALERD_SIP_LISTEN=127.0.0.1:"+strconv.Itoa(d.SIPPort))
	}
	env = append(env, d.Env...)
	cmd := exec.Command(d.Bin)
	cmd.Env = env
	cmd.Dir = d.Dir
	var err error
	if d.Proc, err = StartChild("dialerd", cmd, d.LogPath()); err != nil {
		return err
	}
	d.Starts++
	d.API = NewClient("http://127.0.0.1:" + strconv.Itoa(d.APIPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d.Proc.Exited() {
			return fmt.Errorf("dialerd exited at start (%v): %s", d.Proc.Err(), Tail(d.LogPath(), 2000))
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := d.API.Do(rctx, http.MethodGet, "/readyz", nil, "", nil)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(fmt.Errorf("dialerd not ready within 30s: %w", err), ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d.API.Login(ctx, "admin", d.Password)
}

// Ready reports whether /readyz answers 200 now.
func (d *Dialerd) Ready(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return d.API.Do(rctx, http.MethodGet, "/readyz", nil, "", nil) == nil
}

// Stop ends the daemon gracefully (SIGTERM), killing it after grace.
func (d *Dialerd) Stop(grace time.Duration) error {
	if d.Proc == nil {
		return nil
	}
	return d.Proc.Stop(syscall.SIGTERM, grace)
}
