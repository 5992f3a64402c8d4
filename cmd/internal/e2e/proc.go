package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Child is a process started in its own process group so that it and
// anything it starts can be ended together. It dies with its parent
// (Pdeathsig), so an interrupted run leaves nothing behind.
type Child struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set when done is closed
}

// StartChild starts cmd in a new process group, its output appended to
// logPath.
func StartChild(name string, cmd *exec.Cmd, logPath string) (*Child, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		log.Close()
		close(c.done)
	}()
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err is how the child exited (nil for status 0); only meaningful once
// Exited is true.
func (c *Child) Err() error {
	if !c.Exited() {
		return nil
	}
	return c.err
}

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Stop sends sig to the child's process group and waits up to grace for
// it to exit, then kills the group.
func (c *Child) Stop(sig syscall.Signal, grace time.Duration) error {
	if c.Exited() {
		return c.err
	}
	_ = syscall.Kill(-c.Pid(), sig)
	select {
	case <-c.done:
		return c.err
	case <-time.After(grace):
	}
	_ = syscall.Kill(-c.Pid(), syscall.SIGKILL)
	<-c.done
	return fmt.Errorf("%s did not exit within %s of %s; killed", c.Name, grace, sig)
}

// Kill sends SIGKILL to the child alone (not its group: a crash of the
// daemon, not of what it started) and waits for it to be gone.
func (c *Child) Kill() {
	if c.Exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Wait waits for the child to exit by itself, up to d.
func (c *Child) Wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
	case <-ctx.Done():
	}
	return false
}

// FreeUDPPorts finds n consecutive ports free on 127.0.0.1 for UDP (and
// for TCP too when tcp is set), starting at a port the system picks.
func FreeUDPPorts(n int, tcp bool) (int, error) {
	for range 50 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if base+n > 65535 {
			continue
		}
		if portsFree(base, n, tcp) {
			return base, nil
		}
	}
	return 0, errors.New("no free ports on 127.0.0.1")
}

func portsFree(base, n int, tcp bool) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for p := base; p < base+n; p++ {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u.Close)
		if tcp {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			closers = append(closers, l.Close)
		}
	}
	return true
}

// FreeTCPPort is a TCP port free on 127.0.0.1 now.
func FreeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// UDPBound reports whether some process holds a UDP port on 127.0.0.1.
func UDPBound(port int) bool {
	c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// Tail is the end of a log file, for error messages.
func Tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
