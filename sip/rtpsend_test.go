package sip

import (
	"net"
	"testing"
	"time"
)

// The shared sender keeps each stream on its own 20-ms grid: a late look
// sends every packet whose time has passed and none ahead of its time;
// the stream completes 20 ms after its last packet; after stop nothing
// more is sent.
func TestRTPSenderGrid(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	s := &rtpSender{} // no loop: the test drives sendDue with its own clock
	ans := mediaAnswer{addr: sink.LocalAddr().(*net.UDPAddr), audio: codec{name: "PCMU", pt: 0}, eventPT: -1}
	open := func() *mediaSession {
		m, err := openMedia(net.IPv4(127, 0, 0, 1), s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.conn.Close() })
		return m
	}
	t0 := time.Now()
	m := open()
	st := s.play(m, ans, make([]int16, 5*samplesPerPacket), true, nil) // 100 ms
	st.due = t0

	read := func() []rtpPacket {
		var out []rtpPacket
		buf := make([]byte, 2048)
		for {
			_ = sink.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, _, err := sink.ReadFromUDP(buf)
			if err != nil {
				return out
			}
			p, ok := parseRTP(buf[:n])
			if !ok {
				t.Fatal("not RTP")
			}
			out = append(out, p)
		}
	}
	for _, step := range []struct {
		at        time.Duration
		wantSent  int // packets sent in all
		wantAlive int
	}{
		{0, 1, 1},
		{19 * time.Millisecond, 1, 1},
		{45 * time.Millisecond, 3, 1}, // late: the two due at 20 and 40 ms
		{99 * time.Millisecond, 5, 1},
		{100 * time.Millisecond, 5, 0}, // the last one's 20 ms are over
	} {
		alive := s.sendDue(t0.Add(step.at))
		if st.off/samplesPerPacket != step.wantSent || alive != step.wantAlive {
			t.Fatalf("at %v: %d sent, %d streams alive; want %d, %d", step.at, st.off/samplesPerPacket, alive, step.wantSent, step.wantAlive)
		}
	}
	select {
	case <-st.played:
	default:
		t.Fatal("played not closed after the last packet's 20 ms")
	}
	if got := m.completedAt(); !got.Equal(t0.Add(100 * time.Millisecond)) {
		t.Fatalf("completed at %v, want +100ms", got.Sub(t0))
	}
	pkts := read()
	if len(pkts) != 5 {
		t.Fatalf("%d packets on the wire, want 5", len(pkts))
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].seq != pkts[i-1].seq+1 || pkts[i].timestamp != pkts[i-1].timestamp+samplesPerPacket || pkts[i].marker {
			t.Fatalf("packet %d: seq %d ts %d marker %v after seq %d ts %d", i, pkts[i].seq, pkts[i].timestamp, pkts[i].marker, pkts[i-1].seq, pkts[i-1].timestamp)
		}
	}
	if !pkts[0].marker {
		t.Fatal("the first packet has no marker bit")
	}

	// A stopped stream sends nothing more and is not complete.
	m2 := open()
	st2 := s.play(m2, ans, make([]int16, 5*samplesPerPacket), true, nil)
	st2.due = t0
	s.sendDue(t0)
	s.stop(st2)
	if alive := s.sendDue(t0.Add(time.Second)); alive != 0 {
		t.Fatalf("%d streams alive after stop", alive)
	}
	if got := read(); len(got) != 1 {
		t.Fatalf("%d packets of a stream stopped after its first, want 1", len(got))
	}
	if m2.complete() {
		t.Fatal("a stopped stream counts as sent")
	}
}
