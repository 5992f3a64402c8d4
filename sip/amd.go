package sip

import (
	"math"

	"github.com/dialerd/dialerd/dialer/media"
)

// Answering-machine detection over the callee's audio, in 20 ms frames of
// 160 samples at 8 kHz (see doc.go, "Answering machines", for the rules
// and why these numbers).
const (
	amdFrame = samplesPerPacket

	// Tone: a Goertzel filter per 50 Hz bin from 400 to 2000 Hz (the
	// resolution of a 160-sample frame; bins k = f / 50).
	amdLowBin  = 400 / 50
	amdHighBin = 2000 / 50
	amdBins    = amdHighBin - amdLowBin + 1
	// amdPurity is the share of the frame's energy that two adjacent bins
	// must hold for the frame to be a tone: 1 for a tone on a bin, 0.81
	// half-way between two, well under it for speech or noise.
	amdPurity = 0.6
	// amdBeepFrames tone frames in a row on the same frequency (±1 bin)
	// make a beep: a 250 ms tone fills at least 12 whatever its alignment
	// to our frames, a 200 ms tone at most 11.
	amdBeepFrames = 12

	// amdLevel is the RMS (16-bit samples) under which a frame is
	// silence: about -50 dBFS, well above G.711's idle noise.
	amdLevel = 100

	// The human heuristic, in frames: a greeting (the time from the first
	// sound to the last, gaps included) of at most 1.5 s followed by
	// 800 ms of silence is a person ("Hello?" and a wait); a greeting
	// longer than 1.5 s is a machine; no sound at all for 2.5 s, or no
	// decision after 5 s, is unknown.
	amdMaxGreeting    = 1500 / 20
	amdAfterGreeting  = 800 / 20
	amdInitialSilence = 2500 / 20
	amdMaxAnalysis    = 5000 / 20
)

// amdEvent is what a frame told the detector.
type amdEvent uint8

const (
	amdNone    amdEvent = iota
	amdHuman            // a short greeting and silence
	amdMachine          // a long greeting (no beep yet)
	amdBeep             // a beep ended: a machine, recording from now
	amdUnknown          // the analysis found neither in its time
)

// amdDetector classifies the callee's audio frame by frame. It allocates
// nothing after newAMDDetector and is used by one goroutine.
type amdDetector struct {
	coeff [amdBins]float64  // Goertzel 2cos(2πk/N) per bin
	x     [amdFrame]float64 // the frame being analysed

	frames  int  // frames fed
	decided bool // a verdict (human, machine, unknown) was given

	// The greeting: frame index of the first and the last sound, -1
	// before the first.
	firstSound, lastSound int

	toneBin, toneRun int // the running tone's bin and its length in frames
}

func newAMDDetector() *amdDetector {
	d := &amdDetector{firstSound: -1, lastSound: -1, toneBin: -1}
	for i := range d.coeff {
		d.coeff[i] = 2 * math.Cos(2*math.Pi*float64(amdLowBin+i)/amdFrame)
	}
	return d
}

// feed reads one frame of amdFrame samples and reports what it completed.
// A beep is reported when its tone ends, every time one does; the verdict
// (human, machine or unknown) once. A beep before any verdict is the
// verdict.
func (d *amdDetector) feed(frame []int16) amdEvent {
	d.frames++
	now := d.frames - 1
	level, bin := d.analyse(frame)
	sound := level >= amdLevel

	ev := amdNone
	if bin >= 0 && d.toneBin >= 0 && bin-d.toneBin >= -1 && bin-d.toneBin <= 1 {
		d.toneRun++
	} else {
		if d.toneRun >= amdBeepFrames {
			ev = amdBeep
		}
		d.toneRun = 0
		if bin >= 0 {
			d.toneRun = 1
		}
	}
	d.toneBin = bin
	if ev == amdBeep {
		d.decided = true
		return ev
	}
	if sound { // a tone counts too: the greeting lasts until the beep
		if d.firstSound < 0 {
			d.firstSound = now
		}
		d.lastSound = now
	}
	if d.decided {
		return amdNone
	}
	switch {
	case d.firstSound < 0 && d.frames >= amdInitialSilence:
		ev = amdUnknown
	case d.firstSound >= 0 && d.lastSound-d.firstSound+1 > amdMaxGreeting:
		ev = amdMachine
	case d.firstSound >= 0 && now-d.lastSound >= amdAfterGreeting:
		ev = amdHuman
	case d.frames >= amdMaxAnalysis:
		ev = amdUnknown
	}
	if ev != amdNone {
		d.decided = true
	}
	return ev
}

// analyse returns a frame's RMS level and the bin of the tone it is, -1
// when it is not one.
func (d *amdDetector) analyse(frame []int16) (level float64, bin int) {
	var energy float64
	xs := d.x[:len(frame)]
	for i, s := range frame {
		x := float64(s)
		xs[i] = x
		energy += x * x
	}
	n := float64(len(frame))
	level = math.Sqrt(energy / n)
	if level < amdLevel {
		return level, -1
	}
	// Goertzel per bin; power normalised so that a pure tone on its bin
	// scores 1: |X_k|² · 2 / (N · energy).
	// Three bins per pass over the frame: their recurrences are
	// independent, so the CPU overlaps them (amdBins is a multiple of 3).
	var power [amdBins]float64
	norm := 2 / (n * energy)
	for i := 0; i < amdBins; i += 3 {
		ca, cb, cc := d.coeff[i], d.coeff[i+1], d.coeff[i+2]
		var a1, a2, b1, b2, c1, c2 float64
		for _, x := range xs {
			a1, a2 = x+ca*a1-a2, a1
			b1, b2 = x+cb*b1-b2, b1
			c1, c2 = x+cc*c1-c2, c1
		}
		power[i] = (a1*a1 + a2*a2 - ca*a1*a2) * norm
		power[i+1] = (b1*b1 + b2*b2 - cb*b1*b2) * norm
		power[i+2] = (c1*c1 + c2*c2 - cc*c1*c2) * norm
	}
	best, bestScore := -1, 0.0
	for i := range power {
		score := power[i]
		if i+1 < len(power) {
			score += power[i+1]
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if bestScore < amdPurity {
		return level, -1
	}
	// The bin of the pair that holds more.
	if best+1 < len(power) && power[best+1] > power[best] {
		best++
	}
	return level, amdLowBin + best
}

// amdStream cuts the callee's G.711 payloads into frames for the detector,
// whatever the packet size. It allocates nothing.
type amdStream struct {
	det        *amdDetector
	ulaw, alaw [256]int16 // G.711 decoding tables
	frame      [amdFrame]int16
	n          int
}

func newAMDStream() *amdStream {
	a := &amdStream{det: newAMDDetector()}
	for i := range 256 {
		a.ulaw[i], a.alaw[i] = media.DecodeULaw(byte(i)), media.DecodeALaw(byte(i))
	}
	return a
}

// write decodes one RTP payload of type pt (PCMU or PCMA; other types are
// not audio we offered and are skipped) and feeds every frame it
// completes. It returns the verdict those frames gave (amdNone when none)
// and whether a beep ended among them.
func (a *amdStream) write(pt uint8, payload []byte) (verdict amdEvent, beep bool) {
	table := &a.ulaw
	switch pt {
	case ptPCMU:
	case ptPCMA:
		table = &a.alaw
	default:
		return amdNone, false
	}
	for _, b := range payload {
		a.frame[a.n] = table[b]
		a.n++
		if a.n < amdFrame {
			continue
		}
		a.n = 0
		switch ev := a.det.feed(a.frame[:]); ev {
		case amdBeep:
			beep = true
		case amdNone:
		default:
			verdict = ev
		}
	}
	return verdict, beep
}
