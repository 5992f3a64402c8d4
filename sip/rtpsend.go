package sip

import (
	"math/rand/v2"
	"sync"
	"time"
)

// rtpSender paces the outgoing RTP of every call from one goroutine.
//
// One goroutine and one 20-ms ticker per call cost a timer wake-up per
// packet: 150,000 a second with 3000 calls up, most of the gateway's CPU.
// Here one loop wakes every senderTick and sends each stream the packets
// whose time has come; each stream keeps its own 20-ms grid from its
// start, so its packets leave at most one tick late and never early, and
// the loop sleeps when no call plays.
type rtpSender struct {
	mu      sync.Mutex
	streams []*rtpStream
	wake    chan struct{} // a stream was added to an idle sender
	quit    chan struct{}
	done    chan struct{}
}

// senderTick is how often the loop looks for due packets: the largest
// lateness of a packet, well inside a jitter buffer.
const senderTick = 5 * time.Millisecond

// rtpStream is one call's recording on its way out.
type rtpStream struct {
	m       *mediaSession
	ans     mediaAnswer
	samples []int16
	encode  func(dst []byte, pcm []int16)
	pkt     []byte
	frame   []int16
	seq     uint16
	ts      uint32
	ssrc    uint32
	off     int       // next sample to send
	due     time.Time // when the next packet goes
	played  chan struct{}
	stopped bool // the call stopped it: nothing more goes out
	message bool // its end is the message's delivery (markSent)
}

func newRTPSender() *rtpSender {
	s := &rtpSender{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// play starts sending samples to ans and returns the stream; played is
// closed when the last packet's 20 ms have passed (or the stream stops).
// message marks the recording whose end is its delivery. after, when not
// nil, is the stream (stopped) this one follows on the same call: the new
// one keeps its SSRC and sequence numbers, and its timestamps move on by
// the time that passed (RFC 3550: they follow the sampling clock).
func (s *rtpSender) play(m *mediaSession, ans mediaAnswer, samples []int16, message bool, after *rtpStream) *rtpStream {
	now := time.Now()
	st := &rtpStream{m: m, ans: ans, samples: samples, encode: encoderFor(ans.audio.name),
		pkt: make([]byte, rtpHeaderSize+samplesPerPacket), frame: make([]int16, samplesPerPacket),
		// RFC 3550: random initial sequence number, timestamp and SSRC.
		seq: uint16(rand.Uint32()), ts: rand.Uint32(), ssrc: rand.Uint32(),
		due: now, played: make(chan struct{}), message: message}
	s.mu.Lock()
	if after != nil {
		st.seq, st.ssrc = after.seq, after.ssrc
		st.ts = after.ts + uint32(max(0, now.Sub(after.due))/packetInterval)*samplesPerPacket
	}
	s.streams = append(s.streams, st)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return st
}

// stop ends a stream: when it returns, nothing more is sent on it.
func (s *rtpSender) stop(st *rtpStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !st.stopped {
		st.stopped = true
		close(st.played)
	}
}

func (s *rtpSender) close() {
	close(s.quit)
	<-s.done
}

func (s *rtpSender) run() {
	defer close(s.done)
	tick := time.NewTicker(senderTick)
	defer tick.Stop()
	for {
		if s.sendDue(time.Now()) == 0 {
			// Idle: no ticks until a call plays.
			select {
			case <-s.wake:
			case <-s.quit:
				return
			}
			continue
		}
		select {
		case <-tick.C:
		case <-s.wake:
		case <-s.quit:
			return
		}
	}
}

// sendDue sends every packet due by now and drops finished streams; it
// returns how many streams are left.
func (s *rtpSender) sendDue(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := s.streams[:0]
	for _, st := range s.streams {
		if st.stopped {
			continue
		}
		for st.off < len(st.samples) && !st.due.After(now) {
			st.sendNext()
		}
		if st.off >= len(st.samples) && !st.due.After(now) {
			// The last packet's 20 ms have passed: the recording was sent.
			if st.message {
				st.m.markSent(now)
			}
			st.stopped = true
			close(st.played)
			continue
		}
		live = append(live, st)
	}
	clear(s.streams[len(live):])
	s.streams = live
	return len(live)
}

// sendNext sends one packet: the first has the marker bit, sequence and
// timestamp grow by 1 and 160, the last frame is padded with silence.
func (st *rtpStream) sendNext() {
	n := copy(st.frame, st.samples[st.off:min(st.off+samplesPerPacket, len(st.samples))])
	clear(st.frame[n:])
	putRTPHeader(st.pkt, st.ans.audio.pt, st.off == 0, st.seq, st.ts, st.ssrc)
	st.encode(st.pkt[rtpHeaderSize:], st.frame)
	// A lost packet is the network's business; the call goes on.
	_, _ = st.m.conn.WriteToUDP(st.pkt, st.ans.addr)
	st.seq++
	st.ts += samplesPerPacket
	st.off += samplesPerPacket
	st.due = st.due.Add(packetInterval)
}
