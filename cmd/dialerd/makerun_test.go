package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun runs the README's first command, `make run`, as an operator
// would on a fresh clone: no config file and an empty data dir. Only the port
// and the data dir are overridden, so the test never collides with a real
// daemon or another run.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the daemon through make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "run")
	cmd.Env = append(os.Environ(), "DIALERD_LISTEN=127.0.0.1:0", "DIALERD_DATA_DIR="+t.TempDir(), "DIALERD_CONFIG=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // signal make, go run and dialerd together
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	addr := make(chan string, 1)
	logs := new(lockedLog)
	closed := make(chan struct{}) // stderr reaches EOF when dialerd has exited
	go func() {
		defer close(closed)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(3 * time.Minute): // includes compiling on a cold cache
		t.Fatalf("make run did not listen:\n%s", logs)
	}
	res, err := http.Get("http://" + a + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/healthz = %d", res.StatusCode)
	}
	// As Ctrl-C would: the whole process group gets the signal. make reports
	// itself terminated; dialerd must drain and stop cleanly on its own.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("dialerd did not stop within 15s of SIGTERM")
	}
	_ = cmd.Wait()
	if !strings.Contains(logs.String(), `msg="dialerd stopped"`) {
		t.Fatalf("dialerd did not stop cleanly:\n%s", logs)
	}
}
