package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// sipp is one run of SIPp (Debian's sip-tester) playing a scenario from
// testdata/sipp on 127.0.0.1.
type sipp struct {
	port      int // SIP port
	mediaPort int // SIPp's own RTP port (-mp)
	dir       string

	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

type sippOptions struct {
	transport string // "udp" (default) or "tcp"
	calls     int    // -m; default 1
	keys      map[string]string
	// remote makes SIPp a client sending to this host:port.
	remote string
	// port is SIPp's SIP port; 0 picks a free one.
	port int
	// extra are more command line options.
	extra []string
	// builtin: the scenario is one of SIPp's own (-sn in extra), run
	// without traces and with timeout instead of sippTimeout.
	builtin bool
	timeout time.Duration
	// files are written to SIPp's working directory before it starts
	// (what a scenario names by a relative path: rtp_stream's audio).
	files map[string][]byte
}

const sippTimeout = 20 * time.Second

// startSipp starts SIPp with bounded -m and -timeout on a free port and
// waits until it has bound its SIP socket. It is killed at test end. A
// free port can be taken between our probe and SIPp's bind (tests run
// side by side): then it tries again on other ports.
func startSipp(t *testing.T, scenario string, opt sippOptions) *sipp {
	t.Helper()
	for try := 1; ; try++ {
		s, err := startSippOnce(t, scenario, opt)
		if err == nil {
			return s
		}
		if opt.port != 0 || try == 3 {
			t.Fatal(err)
		}
		t.Logf("sipp try %d: %v", try, err)
	}
}

func startSippOnce(t *testing.T, scenario string, opt sippOptions) (*sipp, error) {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	network, mode := "udp", "u1"
	if opt.transport == "tcp" {
		network, mode = "tcp", "t1"
	}
	if opt.calls == 0 {
		opt.calls = 1
	}
	s := &sipp{
		port:      opt.port,
		mediaPort: freePort(t, "udp"),
		dir:       t.TempDir(),
		done:      make(chan struct{}),
	}
	if s.port == 0 {
		s.port = freePort(t, network)
	}
	for name, data := range opt.files {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	timeout := sippTimeout
	if opt.timeout > 0 {
		timeout = opt.timeout
	}
	args := []string{
		"-i", "127.0.0.1", "-bind_local",
		"-p", strconv.Itoa(s.port),
		"-mp", strconv.Itoa(s.mediaPort),
		"-t", mode,
		"-m", strconv.Itoa(opt.calls),
		"-nostdin",
		"-timeout", strconv.Itoa(int(timeout/time.Second)) + "s", "-timeout_error",
	}
	if !opt.builtin {
		path, err := filepath.Abs(filepath.Join("..", "testdata", "sipp", scenario+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "-sf", path,
			"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
			"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"))
	}
	args = append(args, opt.extra...)
	for k, v := range opt.keys {
		args = append(args, "-key", k, v)
	}
	if opt.remote != "" {
		args = append(args, opt.remote)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() || os.Getenv("SIPP_DUMP") != "" {
			s.dump(t)
		}
	})
	if opt.remote == "" {
		if err := s.waitBound(t, network); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// waitBound polls until SIPp holds its port: binding it ourselves fails.
func (s *sipp) waitBound(t *testing.T, network string) error {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	for range 500 {
		var c interface{ Close() error }
		var err error
		if network == "tcp" {
			c, err = net.Listen("tcp", addr)
		} else {
			c, err = net.ListenPacket("udp", addr)
		}
		if err != nil {
			return nil
		}
		c.Close()
		select {
		case <-s.done:
			return fmt.Errorf("sipp exited before binding: %v\n%s", s.err, s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return errors.New("sipp did not bind its port")
}

// wait returns SIPp's exit code once it has ended (0: every call passed).
func (s *sipp) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(sippTimeout + 5*time.Second):
		t.Fatal("sipp did not exit")
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return exit.ExitCode()
	}
	if s.err != nil {
		t.Fatalf("sipp: %v", s.err)
	}
	return 0
}

// expectSuccess waits for SIPp and fails the test unless every call of the
// scenario completed.
func (s *sipp) expectSuccess(t *testing.T) {
	t.Helper()
	if code := s.wait(t); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
}

func (s *sipp) dump(t *testing.T) {
	for _, name := range []string{"errors.log", "messages.log"} {
		if b, err := os.ReadFile(filepath.Join(s.dir, name)); err == nil {
			t.Logf("sipp %s:\n%s", name, b)
		}
	}
	t.Logf("sipp output:\n%s", s.out.String())
}

// freePort finds a port nobody holds on 127.0.0.1 right now.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// rtpSink collects the RTP packets sent to it.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []rtpPacket
	from []*net.UDPAddr
	at   []time.Time // when each packet arrived
	done chan struct{}
	// first is closed when the first packet has arrived.
	first     chan struct{}
	firstOnce sync.Once
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn, done: make(chan struct{}), first: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p, ok := parseRTP(bytes.Clone(buf[:n]))
			if !ok {
				continue
			}
			s.mu.Lock()
			s.pkts = append(s.pkts, p)
			s.from = append(s.from, from)
			s.at = append(s.at, time.Now())
			s.mu.Unlock()
			s.firstOnce.Do(func() { close(s.first) })
		}
	}()
	t.Cleanup(func() { conn.Close(); <-s.done })
	return s
}

func (s *rtpSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// sender waits for the first packet and returns the address it came from.
func (s *rtpSink) sender(t *testing.T) *net.UDPAddr {
	t.Helper()
	select {
	case <-s.first:
	case <-time.After(10 * time.Second):
		t.Fatal("no RTP arrived")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.from[0]
}

func (s *rtpSink) packets() []rtpPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtpPacket(nil), s.pkts...)
}

// arrivals returns the packets with when each arrived.
func (s *rtpSink) arrivals() ([]rtpPacket, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtpPacket(nil), s.pkts...), append([]time.Time(nil), s.at...)
}

// testContext bounds a test's Deliver.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// contextWithCancel is testContext with its cancel func.
func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(testContext(t))
	t.Cleanup(cancel)
	return ctx, cancel
}
