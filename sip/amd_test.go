package sip

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer/media"
)

// sine is a tone of freq Hz and amplitude amp lasting d, at 8 kHz.
func sine(freq float64, amp float64, d time.Duration) []int16 {
	s := make([]int16, int(d.Seconds()*8000))
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return s
}

// quiet is silence lasting d.
func quiet(d time.Duration) []int16 { return make([]int16, int(d.Seconds()*8000)) }

// babble stands for speech: broadband noise with a syllable envelope (on
// 150 ms, off 50 ms), which no Goertzel bin holds most of.
func babble(d time.Duration, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]int16, int(d.Seconds()*8000))
	for i := range s {
		if i%1600 < 1200 {
			s[i] = int16(r.NormFloat64() * 3000)
		}
	}
	return s
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// detect feeds samples frame by frame and returns the verdict, the frame
// it came at, and the frames at which beeps ended.
func detect(samples []int16) (verdict amdEvent, at int, beeps []int) {
	d := newAMDDetector()
	for i := 0; i+amdFrame <= len(samples); i += amdFrame {
		switch ev := d.feed(samples[i : i+amdFrame]); ev {
		case amdNone:
		case amdBeep:
			beeps = append(beeps, i/amdFrame)
			if verdict == amdNone {
				verdict, at = amdMachine, i/amdFrame
			}
		default:
			if verdict == amdNone {
				verdict, at = ev, i/amdFrame
			}
		}
	}
	return verdict, at, beeps
}

func TestAMDBeepTones(t *testing.T) {
	for _, tc := range []struct {
		name string
		freq float64
		dur  time.Duration
		beep bool
	}{
		{"1 kHz 500 ms", 1000, 500 * time.Millisecond, true},
		{"1 kHz 250 ms", 1000, 250 * time.Millisecond, true},
		{"1 kHz 200 ms", 1000, 200 * time.Millisecond, false},
		{"1 kHz 150 ms", 1000, 150 * time.Millisecond, false},
		{"400 Hz", 400, 400 * time.Millisecond, true},
		{"425 Hz (between bins)", 425, 300 * time.Millisecond, true},
		{"1400 Hz 250 ms", 1400, 250 * time.Millisecond, true},
		{"1975 Hz (between bins)", 1975, 260 * time.Millisecond, true},
		{"2000 Hz", 2000, 400 * time.Millisecond, true},
		{"300 Hz: too low", 300, 500 * time.Millisecond, false},
		{"350 Hz: too low", 350, 500 * time.Millisecond, false},
		{"2100 Hz: too high", 2100, 500 * time.Millisecond, false},
		{"2500 Hz: too high", 2500, 500 * time.Millisecond, false},
		{"1 kHz, too quiet", 1000, 500 * time.Millisecond, false},
	} {
		amp := 8000.0
		if tc.name == "1 kHz, too quiet" {
			amp = 50
		}
		// Every alignment of the tone to the 20 ms frames, in 1 ms steps.
		for offset := time.Duration(0); offset < 20*time.Millisecond; offset += time.Millisecond {
			s := concat(quiet(300*time.Millisecond+offset), sine(tc.freq, amp, tc.dur), quiet(time.Second))
			_, _, beeps := detect(s)
			if got := len(beeps) > 0; got != tc.beep {
				t.Errorf("%s, offset %v: beep %v, want %v", tc.name, offset, got, tc.beep)
				break
			}
		}
	}
	// A tone whose frequency wanders is not steady: no beep.
	var sweep []int16
	for f := 500.0; f < 1700; f += 150 {
		sweep = append(sweep, sine(f, 8000, 60*time.Millisecond)...)
	}
	if _, _, beeps := detect(concat(sweep, quiet(time.Second))); len(beeps) > 0 {
		t.Errorf("a sweep from 500 to 1700 Hz read as a beep at frames %v", beeps)
	}
	// Two beeps are two.
	two := concat(sine(1000, 8000, 300*time.Millisecond), quiet(200*time.Millisecond), sine(800, 8000, 300*time.Millisecond), quiet(100*time.Millisecond))
	if _, _, beeps := detect(two); len(beeps) != 2 {
		t.Errorf("two beeps read as %v", beeps)
	}
}

func TestAMDVerdicts(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name    string
		audio   []int16
		verdict amdEvent
		atMost  time.Duration // the verdict comes by then
		beeps   int
	}{
		{"hello then silence", concat(quiet(ms(400)), babble(ms(600), 1), quiet(ms(2000))), amdHuman, ms(1900), 0},
		{"hello, there then silence", concat(babble(ms(1400), 2), quiet(ms(1500))), amdHuman, ms(2300), 0},
		{"long greeting", concat(babble(ms(4000), 3), quiet(ms(500))), amdMachine, ms(1600), 0},
		{"greeting then beep", concat(babble(ms(3000), 4), quiet(ms(300)), sine(1000, 8000, ms(400)), quiet(ms(500))), amdMachine, ms(1600), 1},
		{"beep alone", concat(quiet(ms(500)), sine(1000, 8000, ms(400)), quiet(ms(500))), amdMachine, ms(1000), 1},
		{"silence", quiet(ms(4000)), amdUnknown, ms(2600), 0},
		{"speech with a pause longer than 800 ms", concat(babble(ms(500), 5), quiet(ms(900)), babble(ms(3000), 6)), amdHuman, ms(1500), 0},
	} {
		verdict, at, beeps := detect(tc.audio)
		if verdict != tc.verdict || time.Duration(at+1)*packetInterval > tc.atMost || len(beeps) != tc.beeps {
			t.Errorf("%s: verdict %d after %v, beeps %v; want %d by %v, %d beeps", tc.name, verdict,
				time.Duration(at+1)*packetInterval, beeps, tc.verdict, tc.atMost, tc.beeps)
		}
	}
}

// The stream decodes payloads of any size into frames: the same audio in
// 20 ms packets, in 30 ms packets and in one byte at a time gives the same
// events; a payload type that is not G.711 is skipped.
func TestAMDStreamPacketSizes(t *testing.T) {
	audio := concat(babble(3*time.Second, 7), sine(1000, 8000, 400*time.Millisecond), quiet(500*time.Millisecond))
	for _, law := range []struct {
		pt     uint8
		encode func(int16) byte
	}{{ptPCMU, media.EncodeULaw}, {ptPCMA, media.EncodeALaw}} {
		enc := make([]byte, len(audio))
		for i, s := range audio {
			enc[i] = law.encode(s)
		}
		for _, size := range []int{160, 240, 1, 1000} {
			st := newAMDStream()
			var verdict amdEvent
			beeps := 0
			for off := 0; off < len(enc); off += size {
				v, b := st.write(law.pt, enc[off:min(off+size, len(enc))])
				if v != amdNone && verdict == amdNone {
					verdict = v
				}
				if b {
					beeps++
				}
			}
			if verdict != amdMachine || beeps != 1 {
				t.Errorf("pt %d, %d-byte packets: verdict %d, %d beeps; want machine and 1", law.pt, size, verdict, beeps)
			}
		}
	}
	st := newAMDStream()
	if v, b := st.write(ptTelephoneEvent, make([]byte, 4000)); v != amdNone || b || st.det.frames != 0 {
		t.Errorf("telephone events fed the detector: %d %v, %d frames", v, b, st.det.frames)
	}
}

// The receive path does not allocate per packet.
func TestAMDStreamAllocs(t *testing.T) {
	st := newAMDStream()
	pkt := make([]byte, 160)
	for i := range pkt {
		pkt[i] = media.EncodeULaw(int16(3000 * math.Sin(float64(i))))
	}
	if n := testing.AllocsPerRun(200, func() { st.write(ptPCMU, pkt) }); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}

func BenchmarkAMDStream(b *testing.B) {
	st := newAMDStream()
	pkt := make([]byte, 160)
	for i := range pkt {
		pkt[i] = media.EncodeULaw(int16(3000 * math.Sin(float64(i))))
	}
	b.ReportAllocs()
	for b.Loop() {
		st.write(ptPCMU, pkt)
	}
}

// FuzzAMDRTP drives the receive path of detection with arbitrary datagrams:
// parse, then decode and detect. It must never panic, keep its frame
// buffer in bounds, and count only whole frames.
func FuzzAMDRTP(f *testing.F) {
	pkt := make([]byte, rtpHeaderSize+160)
	putRTPHeader(pkt, ptPCMU, true, 1, 160, 42)
	f.Add(pkt)
	f.Add([]byte{0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xd5, 0xd5})
	f.Add([]byte{0xb0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9}) // extension, padding
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newAMDStream()
		total := 0
		for range 3 { // the same datagram three times: frames span packets
			p, ok := parseRTP(data)
			if !ok {
				return
			}
			st.write(p.payloadType, p.payload)
			if p.payloadType == ptPCMU || p.payloadType == ptPCMA {
				total += len(p.payload)
			}
			if st.n < 0 || st.n >= amdFrame || st.det.frames != total/amdFrame {
				t.Fatalf("buffer %d, %d frames after %d samples", st.n, st.det.frames, total)
			}
		}
	})
}
