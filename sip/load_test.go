package sip

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestLoadUDPDrops places calls at SIP_LOAD_CPS (default 200) for
// SIP_LOAD_SECONDS (default 30) against SIPp's built-in UAS and reports
// the datagrams the kernel dropped at the gateway's SIP socket (the drops
// column of /proc/net/udp), with the receive buffer asked for
// (SIP_LOAD_RCVBUF bytes; -1 the system default). It is a measurement,
// not a unit test: it runs only with SIP_LOAD=1.
func TestLoadUDPDrops(t *testing.T) {
	if os.Getenv("SIP_LOAD") == "" {
		t.Skip("set SIP_LOAD=1 to run the load measurement")
	}
	cps := envInt("SIP_LOAD_CPS", 200)
	seconds := envInt("SIP_LOAD_SECONDS", 30)
	rcvbuf := envInt("SIP_LOAD_RCVBUF", 0)
	g := newTestGateway(t, Config{ReadBuffer: rcvbuf, Logger: discardLogger()})
	s := startSipp(t, "", sippOptions{calls: cps * seconds, extra: []string{"-sn", "uas"}, builtin: true,
		timeout: time.Duration(seconds+60) * time.Second})
	wav := writeWAV(t, tone(20*time.Millisecond))
	port := g.Addr("udp").(*net.UDPAddr).Port

	var answered, failed, faults atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(cps))
	defer tick.Stop()
	start := time.Now()
	for range cps * seconds {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := voiceAttempt(t, s, "udp", wav)
			out, err := g.Deliver(testContext(t), a, nil)
			switch {
			case err != nil:
				faults.Add(1)
			case out.Delivered:
				answered.Add(1)
			default:
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	drops, rxQueue := udpDrops(t, port)
	t.Logf("%d calls in %v (%.0f cps): %d delivered, %d not, %d faults; SIP socket drops %d, rx queue %d bytes, rcvbuf asked %d",
		cps*seconds, elapsed.Round(time.Millisecond), float64(cps*seconds)/elapsed.Seconds(),
		answered.Load(), failed.Load(), faults.Load(), drops, rxQueue, rcvbuf)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// udpDrops reads the drops and rx_queue of the UDP socket bound to port
// from /proc/net/udp.
func udpDrops(t *testing.T, port int) (drops, rxQueue int64) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 || !strings.HasSuffix(fields[1], want) {
			continue
		}
		queues := strings.Split(fields[4], ":")
		rx, _ := strconv.ParseInt(queues[1], 16, 64)
		d, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		return d, rx
	}
	t.Fatalf("socket on port %d not in /proc/net/udp", port)
	return 0, 0
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkParseAnswer is what sipgo's UDP reader does inline for each
// datagram before handing the message to a goroutine: parse it. Its cost
// bounds the datagrams one reader takes per second.
func BenchmarkParseAnswer(b *testing.B) {
	body := "v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
	raw := []byte("SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0123456789abcdef01234567\r\n" +
		"From: \"Dialer\" <sip:+15550000000@trunk.example>;tag=0123456789abcdef0123\r\n" +
		"To: <sip:+15551230001@trunk.example>;tag=callee1\r\n" +
		"Call-ID: 6b1f3c2e-0000-4000-8000-000000000001\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:127.0.0.1:5070;transport=udp>\r\n" +
		"Record-Route: <sip:10.0.0.1;lr>\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sip.ParseMessage(raw); err != nil {
			b.Fatal(err)
		}
	}
}
