package sip

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// G.711 at 8 kHz in 20 ms packets.
const (
	samplesPerPacket = 160
	packetInterval   = 20 * time.Millisecond
	rtpHeaderSize    = 12
)

// rtpPacket is the part of a received RTP packet we read.
type rtpPacket struct {
	payloadType uint8
	marker      bool
	seq         uint16
	timestamp   uint32
	ssrc        uint32
	payload     []byte
}

// parseRTP reads an RTP packet (RFC 3550 section 5.1), skipping CSRCs, a
// header extension and padding.
func parseRTP(b []byte) (rtpPacket, bool) {
	if len(b) < rtpHeaderSize || b[0]>>6 != 2 {
		return rtpPacket{}, false
	}
	p := rtpPacket{
		marker:      b[1]&0x80 != 0,
		payloadType: b[1] & 0x7f,
		seq:         binary.BigEndian.Uint16(b[2:4]),
		timestamp:   binary.BigEndian.Uint32(b[4:8]),
		ssrc:        binary.BigEndian.Uint32(b[8:12]),
	}
	off := rtpHeaderSize + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // header extension
		if len(b) < off+4 {
			return rtpPacket{}, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding; the last byte counts it
		end -= int(b[len(b)-1])
	}
	if off > end {
		return rtpPacket{}, false
	}
	p.payload = b[off:end]
	return p, true
}

// putRTPHeader writes a version 2 header without CSRCs or extension.
func putRTPHeader(b []byte, pt uint8, marker bool, seq uint16, ts, ssrc uint32) {
	b[0] = 2 << 6
	b[1] = pt & 0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], seq)
	binary.BigEndian.PutUint32(b[4:8], ts)
	binary.BigEndian.PutUint32(b[8:12], ssrc)
}

// mediaSession is the RTP side of one call: one UDP socket that sends the
// recording (and an opt-out confirmation) and reads the callee's telephone
// events and, when answering-machine detection runs, the callee's audio.
type mediaSession struct {
	conn   *net.UDPConn
	sender *rtpSender
	// stream is what plays now (or played last), through the gateway's
	// shared sender; only the call's goroutine sets it.
	stream *rtpStream

	stopOnce sync.Once
	stopping chan struct{}
	wg       sync.WaitGroup // the receiver
	digits   chan string
	amd      chan amdEvent // verdicts and beeps; nil without detection
	// detecting is cleared once the call needs no more of detection, so
	// the rest of the call's audio is not decoded.
	detecting atomic.Bool

	// sentAll is when the sender sent the last packet of the recording
	// and its 20 ms passed; zero until then. It is the gateway's only
	// evidence of delivery.
	mu      sync.Mutex
	sentAll time.Time
}

// complete reports whether the whole recording was sent.
func (m *mediaSession) complete() bool { return !m.completedAt().IsZero() }

// completedAt is when the whole recording had been sent, or zero.
func (m *mediaSession) completedAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sentAll
}

// openMedia binds an RTP socket on ip with a port the system picks; its
// recording goes out through sender.
func openMedia(ip net.IP, sender *rtpSender) (*mediaSession, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, fmt.Errorf("sip: rtp socket: %w", err)
	}
	return &mediaSession{conn: conn, sender: sender, stopping: make(chan struct{}), digits: make(chan string, 64)}, nil
}

func (m *mediaSession) port() int { return m.conn.LocalAddr().(*net.UDPAddr).Port }

// listen reads the callee's RTP: digits always, and answering-machine
// events when detect is set (the only case the audio is decoded).
func (m *mediaSession) listen(ans mediaAnswer, detect bool) (digits <-chan string, amd <-chan amdEvent) {
	var st *amdStream
	if detect {
		m.amd = make(chan amdEvent, 8)
		st = newAMDStream()
		m.detecting.Store(true)
	}
	m.wg.Add(1)
	go m.receive(ans, st)
	return m.digits, m.amd
}

// play streams samples to the answer's address through the gateway's
// shared sender; played is closed when the last packet's 20 ms have passed
// or the playback was cut. message marks the recording whose end is the
// delivery. One playback runs at a time: call cut before the next, which
// continues the stream's SSRC and sequence numbers.
func (m *mediaSession) play(ans mediaAnswer, samples []int16, message bool) (played <-chan struct{}) {
	m.stream = m.sender.play(m, ans, samples, message, m.stream)
	return m.stream.played
}

// cut stops the playback, if any: when it returns nothing more of it is sent.
func (m *mediaSession) cut() {
	if m.stream != nil {
		m.sender.stop(m.stream)
	}
}

// markSent records that the whole recording was sent, at t.
func (m *mediaSession) markSent(t time.Time) {
	m.mu.Lock()
	m.sentAll = t
	m.mu.Unlock()
}

// receive reads RTP until the socket closes, turning RFC 4733 events from
// the answer's address into digits and, with st, its audio into
// answering-machine events.
func (m *mediaSession) receive(ans mediaAnswer, st *amdStream) {
	defer m.wg.Done()
	var det dtmfDetector
	buf := make([]byte, 1500)
	callee := ans.addr.AddrPort().Addr().Unmap()
	for {
		// ReadFromUDPAddrPort allocates nothing per packet (ReadFromUDP
		// allocates the sender's address: 50 a second per call).
		n, from, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		// Only the callee's media address may press keys for it.
		if from.Addr().Unmap() != callee {
			continue
		}
		pkt, ok := parseRTP(buf[:n])
		if !ok {
			continue
		}
		if !isEventPT(pkt.payloadType, ans.eventPT) {
			if st != nil && m.detecting.Load() {
				verdict, beep := st.write(pkt.payloadType, pkt.payload)
				if verdict != amdNone && !m.report(m.amd, verdict) {
					return
				}
				if beep && !m.report(m.amd, amdBeep) {
					return
				}
			}
			continue
		}
		digit, ok := det.feed(pkt.timestamp, pkt.payload)
		if !ok {
			continue
		}
		select {
		case m.digits <- digit:
		case <-m.stopping:
			return
		}
	}
}

// report hands an event to the call; false when the session is stopping.
func (m *mediaSession) report(ch chan amdEvent, ev amdEvent) bool {
	select {
	case ch <- ev:
		return true
	case <-m.stopping:
		return false
	}
}

// isEventPT accepts telephone events on the payload type the answer gave
// them and on the one we offered: RFC 3264 lets the answerer renumber, and
// some senders keep the offer's number.
func isEventPT(pt uint8, answered int) bool {
	return pt == ptTelephoneEvent || (answered >= 0 && int(pt) == answered)
}

// stop ends sending and receiving and returns the digits read but not yet
// taken.
func (m *mediaSession) stop() []string {
	m.stopOnce.Do(func() {
		if m.stream != nil {
			m.sender.stop(m.stream)
		}
		close(m.stopping)
		// Wake the reader; the socket stays open until close.
		_ = m.conn.SetReadDeadline(time.Now())
	})
	m.wg.Wait()
	var rest []string
	for {
		select {
		case d := <-m.digits:
			rest = append(rest, d)
		default:
			return rest
		}
	}
}

// close releases the socket; it is safe after stop or without start.
func (m *mediaSession) close() {
	m.stop()
	m.conn.Close()
}
