package sip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
)

// newTestGateway starts a gateway on 127.0.0.1 with a free port.
func newTestGateway(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

var callSeq atomic.Int64

// voiceAttempt is a voicemessage attempt to a SIPp callee.
func voiceAttempt(t *testing.T, s *sipp, transport string, recording string) dialer.Attempt {
	n := callSeq.Add(1)
	return dialer.Attempt{
		SpoolID:        n,
		CallUUID:       fmt.Sprintf("6b1f3c2e-0000-4000-8000-%012d", n),
		TransmissionID: n,
		Program:        dialer.ProgramVoiceMessage,
		Phone:          "+15551230001",
		CallerIDNumber: "+15550000000",
		CallerIDName:   "Dialer Test",
		Provider: dialer.Route{
			ProviderID: 7, Name: "sipp", Host: "127.0.0.1", Port: s.port, Transport: transport,
		},
		RingTimeout: 5 * time.Second,
		MaxDuration: 20 * time.Second,
		Media:       dialer.Media{RecordingPath: recording},
	}
}

// tone is a 440 Hz sine of the given length at 8 kHz.
func tone(d time.Duration) []int16 {
	n := int(d.Seconds() * 8000)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return s
}

// writeWAV writes samples as an 8 kHz 16-bit mono WAV file.
func writeWAV(t *testing.T, samples []int16) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "message.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := media.WriteWAV(f, media.TelephonyRate, samples); err != nil {
		t.Fatal(err)
	}
	return path
}

// progressLog records progress calls.
type progressLog struct {
	mu    sync.Mutex
	kinds []dialer.ProgressKind
	dtmf  []string
}

func (p *progressLog) record(pr dialer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kinds = append(p.kinds, pr.Kind)
	if pr.Kind == dialer.ProgressDTMF {
		p.dtmf = append(p.dtmf, pr.Digit)
	}
}

func (p *progressLog) count(k dialer.ProgressKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, got := range p.kinds {
		if got == k {
			n++
		}
	}
	return n
}

func TestCallAnsweredPlaysRecordingThenHangsUp(t *testing.T) {
	tests := []struct {
		transport, formats string
		pt                 uint8
		encode             func(int16) byte
	}{
		{"udp", "0 8", ptPCMU, media.EncodeULaw},
		{"tcp", "8 0", ptPCMA, media.EncodeALaw},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			sink := newRTPSink(t)
			s := startSipp(t, "answer", sippOptions{transport: tt.transport, keys: map[string]string{
				"rtp_port": fmt.Sprint(sink.port()), "formats": tt.formats,
			}})
			samples := tone(430 * time.Millisecond) // 21.5 packets: the last is padded
			a := voiceAttempt(t, s, tt.transport, writeWAV(t, samples))

			var prog progressLog
			out, err := g.Deliver(testContext(t), a, prog.record)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t)

			if out.Cause != CauseNormalClearing || out.SIPCode != 200 {
				t.Errorf("outcome %s/%d, want NORMAL_CLEARING/200", out.Cause, out.SIPCode)
			}
			if out.Start.IsZero() || out.Connect.Before(out.Start) || out.End.Before(out.Connect) {
				t.Errorf("times start=%v connect=%v end=%v", out.Start, out.Connect, out.End)
			}
			if played := out.End.Sub(out.Connect); played < 400*time.Millisecond {
				t.Errorf("hung up %v after answer, before the recording could play", played)
			}
			if out.Billsec != int(out.End.Sub(out.Connect)/time.Second) {
				t.Errorf("billsec %d for %v", out.Billsec, out.End.Sub(out.Connect))
			}
			if prog.count(dialer.ProgressRinging) != 1 || prog.count(dialer.ProgressAnswered) != 1 {
				t.Errorf("progress %v, want one ringing and one answered", prog.kinds)
			}
			checkRTP(t, sink.packets(), samples, tt.pt, tt.encode)
			if ok, _ := g.CallExists(testContext(t), "", a.CallUUID); ok {
				t.Error("CallExists after the call ended")
			}
		})
	}
}

// checkRTP verifies a stream: one packet per 160 samples, consecutive
// sequence numbers, timestamps 160 apart, one SSRC, the marker on the first
// packet only, and payloads that are the encoded recording.
func checkRTP(t *testing.T, pkts []rtpPacket, samples []int16, pt uint8, encode func(int16) byte) {
	t.Helper()
	want := (len(samples) + samplesPerPacket - 1) / samplesPerPacket
	if len(pkts) != want {
		t.Fatalf("got %d RTP packets, want %d", len(pkts), want)
	}
	for i, p := range pkts {
		if p.payloadType != pt {
			t.Fatalf("packet %d payload type %d, want %d", i, p.payloadType, pt)
		}
		if p.marker != (i == 0) {
			t.Errorf("packet %d marker %v", i, p.marker)
		}
		if len(p.payload) != samplesPerPacket {
			t.Fatalf("packet %d carries %d bytes", i, len(p.payload))
		}
		if i > 0 {
			prev := pkts[i-1]
			if p.seq != prev.seq+1 || p.timestamp != prev.timestamp+samplesPerPacket || p.ssrc != prev.ssrc {
				t.Fatalf("packet %d seq %d ts %d ssrc %x after seq %d ts %d ssrc %x",
					i, p.seq, p.timestamp, p.ssrc, prev.seq, prev.timestamp, prev.ssrc)
			}
		}
		for j, b := range p.payload {
			k := i*samplesPerPacket + j
			var s int16 // padding after the recording is silence
			if k < len(samples) {
				s = samples[k]
			}
			if b != encode(s) {
				t.Fatalf("packet %d byte %d is %#x, want %#x", i, j, b, encode(s))
			}
		}
	}
}

func TestCallFinalResponses(t *testing.T) {
	tests := []struct {
		scenario string
		cause    string
		code     int
	}{
		{"busy", CauseUserBusy, 486},
		{"unavailable", "NORMAL_CIRCUIT_CONGESTION", 503}, // dialer.SIPCause: the route's
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			s := startSipp(t, tt.scenario, sippOptions{})
			a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
			var prog progressLog
			out, err := g.Deliver(testContext(t), a, prog.record)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t)
			if out.Cause != tt.cause || out.SIPCode != tt.code {
				t.Errorf("outcome %s/%d, want %s/%d", out.Cause, out.SIPCode, tt.cause, tt.code)
			}
			if !out.Connect.IsZero() || out.Billsec != 0 {
				t.Errorf("connect %v billsec %d for a call never answered", out.Connect, out.Billsec)
			}
			if prog.count(dialer.ProgressAnswered) != 0 {
				t.Errorf("progress %v", prog.kinds)
			}
		})
	}
}

func TestCallRingTimeoutCancels(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "noanswer", sippOptions{})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
	a.RingTimeout = 700 * time.Millisecond

	var prog progressLog
	live := make(chan bool, 1)
	out, err := g.Deliver(testContext(t), a, func(p dialer.Progress) {
		prog.record(p)
		if p.Kind == dialer.ProgressRinging {
			ok, _ := g.CallExists(testContext(t), "", a.CallUUID)
			live <- ok
		}
	})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseNoAnswer || out.SIPCode != 487 {
		t.Errorf("outcome %s/%d, want NO_ANSWER/487", out.Cause, out.SIPCode)
	}
	if rang := out.End.Sub(out.Start); rang < a.RingTimeout {
		t.Errorf("cancelled after %v, before the ring timeout", rang)
	}
	if prog.count(dialer.ProgressRinging) != 1 {
		t.Errorf("progress %v, want one ringing", prog.kinds)
	}
	if !<-live {
		t.Error("CallExists false while the call rang")
	}
}

func TestCallCancelledByCallerIsOriginatorCancel(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "noanswer", sippOptions{})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
	ctx, cancel := contextWithCancel(t)
	out, err := g.Deliver(ctx, a, func(p dialer.Progress) {
		if p.Kind == dialer.ProgressRinging {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseOriginatorCancel || out.SIPCode != 487 {
		t.Errorf("outcome %s/%d, want ORIGINATOR_CANCEL/487", out.Cause, out.SIPCode)
	}
}

func TestCallDigestAuthentication(t *testing.T) {
	tests := []struct {
		name, password, cause string
		code                  int
	}{
		{"right password", "s3cret", CauseNormalClearing, 200},
		{"wrong password", "guess", CauseCallRejected, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			s := startSipp(t, "auth", sippOptions{keys: map[string]string{"user": "trunk1", "password": "s3cret"}})
			a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
			a.Provider.Username, a.Provider.Password = "trunk1", tt.password
			out, err := g.Deliver(testContext(t), a, nil)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t)
			if out.Cause != tt.cause || out.SIPCode != tt.code {
				t.Errorf("outcome %s/%d, want %s/%d", out.Cause, out.SIPCode, tt.cause, tt.code)
			}
		})
	}
}

func TestCallFarEndHangsUp(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "hangup", sippOptions{})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseNormalClearing || out.SIPCode != 200 || out.Connect.IsZero() {
		t.Errorf("outcome %s/%d connect %v", out.Cause, out.SIPCode, out.Connect)
	}
	if d := out.End.Sub(out.Connect); d > 5*time.Second {
		t.Errorf("call lasted %v: the far end's BYE did not end it", d)
	}
}

func TestCallMaxDuration(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
	a.MaxDuration = 300 * time.Millisecond
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Cause != CauseAllottedTimeout {
		t.Errorf("cause %s, want ALLOTTED_TIMEOUT", out.Cause)
	}
	if n := len(sink.packets()); n > 100 {
		t.Errorf("%d packets sent after a 300 ms limit", n)
	}
}

func TestCallDTMFFromCallee(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "dtmf", sippOptions{keys: map[string]string{"digits": "12#"}})
	// Long enough for SIPp's three digits (about 400 ms each).
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(2500*time.Millisecond)))
	var prog progressLog
	out, err := g.Deliver(testContext(t), a, prog.record)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	got := digitsOf(out.Results)
	if want := []string{"1", "2", "#"}; !slices.Equal(got, want) || !slices.Equal(prog.dtmf, want) {
		t.Errorf("results %v, progress %v; want %v", got, prog.dtmf, want)
	}
}

func TestCallTransportFailureIsAnError(t *testing.T) {
	g := newTestGateway(t, Config{})
	port := freePort(t, "tcp") // nobody listens there now
	a := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-ffffffffffff", Program: dialer.ProgramVoiceMessage,
		Phone:    "+15551230001",
		Provider: dialer.Route{Host: "127.0.0.1", Port: port, Transport: "tcp"},
		Media:    dialer.Media{RecordingPath: writeWAV(t, tone(100*time.Millisecond))},
	}
	_, err := g.Deliver(testContext(t), a, nil)
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("Deliver error %v, want ErrTransport", err)
	}
}

// TestCallDTMFWeSend plays the callee's RTP ourselves, on the payload type
// we offered, with the cases SIPp does not produce: an event whose start
// packets were lost, a late packet of an earlier event, the same key
// twice, an event that is not a key, and keys pressed from a foreign
// address.
func TestCallDTMFWeSend(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(1500*time.Millisecond)))
	var prog progressLog
	type result struct {
		out dialer.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.Deliver(testContext(t), a, prog.record)
		done <- result{out, err}
	}()

	ua := sink.sender(t)
	foreign, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	seq := uint16(100)
	send := func(conn *net.UDPConn, ts uint32, event byte, end bool, duration uint16) {
		pkt := make([]byte, rtpHeaderSize+4)
		putRTPHeader(pkt, ptTelephoneEvent, false, seq, ts, 0xfeed)
		seq++
		pkt[rtpHeaderSize] = event
		pkt[rtpHeaderSize+1] = 10 // volume
		if end {
			pkt[rtpHeaderSize+1] |= 0x80
		}
		binary.BigEndian.PutUint16(pkt[rtpHeaderSize+2:], duration)
		if _, err := conn.WriteToUDP(pkt, ua); err != nil {
			t.Fatal(err)
		}
	}
	send(foreign, 1000, 7, false, 0) // a stranger presses 7
	send(sink.conn, 8000, 5, false, 0)
	send(sink.conn, 8000, 5, false, 160)
	send(sink.conn, 8000, 5, true, 320)
	send(sink.conn, 8000, 5, true, 320)
	send(sink.conn, 9600, 9, true, 800) // only the end packets of 9 arrive
	send(sink.conn, 9600, 9, true, 800)
	send(sink.conn, 8000, 5, true, 320)  // late copy of the first 5
	send(sink.conn, 11200, 20, false, 0) // event 20 is not a key
	send(sink.conn, 12800, 5, false, 0)  // 5 pressed again
	send(sink.conn, 12800, 5, true, 480)

	r := <-done
	if r.err != nil {
		t.Fatalf("Deliver: %v", r.err)
	}
	s.expectSuccess(t)
	got := digitsOf(r.out.Results)
	if want := []string{"5", "9", "5"}; !slices.Equal(got, want) || !slices.Equal(prog.dtmf, want) {
		t.Errorf("results %v, progress %v; want %v", got, prog.dtmf, want)
	}
}

// TestCallAnswerCrossingCancel: the callee answers as our CANCEL goes out;
// the answer is acknowledged and the call ended with BYE, and the outcome
// still says nobody answered in time.
func TestCallAnswerCrossingCancel(t *testing.T) {
	g := newTestGateway(t, Config{})
	s := startSipp(t, "crossed", sippOptions{})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(100*time.Millisecond)))
	a.RingTimeout = 300 * time.Millisecond
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t) // it got ACK and BYE
	if out.Cause != CauseNoAnswer || out.SIPCode != 200 {
		t.Errorf("outcome %s/%d, want NO_ANSWER/200", out.Cause, out.SIPCode)
	}
}

// TestCallCancelledWhileConnected: the caller's context ends mid-call; we
// hang up with BYE.
func TestCallCancelledWhileConnected(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
	ctx, cancel := contextWithCancel(t)
	out, err := g.Deliver(ctx, a, func(p dialer.Progress) {
		if p.Kind == dialer.ProgressAnswered {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t) // it got our BYE
	if out.Cause != CauseNormalClearing || out.Connect.IsZero() || out.End.Sub(out.Connect) > 5*time.Second {
		t.Errorf("outcome %+v", out)
	}
}

// digitsOf is the dtmf digits among results, in order.
func digitsOf(results []dialer.Result) []string {
	var got []string
	for _, r := range results {
		if r.Type == "dtmf" && r.Name == "digit" {
			got = append(got, r.Data)
		}
	}
	return got
}
