package media

import (
	"math"
	"slices"
	"testing"
)

// sinePCM is one second of a sine of freq Hz at half scale in every channel.
func sinePCM(rate, channels int, freq float64) *PCM {
	p := &PCM{Rate: rate, Channels: channels, Samples: make([]int16, rate*channels)}
	for i := range rate {
		s := int16(math.Round(16384 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
		for c := range channels {
			p.Samples[i*channels+c] = s
		}
	}
	return p
}

// zeroCrossings counts sign changes, skipping the filter's edges.
func zeroCrossings(x []int16) int {
	n := 0
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			n++
		}
	}
	return n
}

func TestToTelephonyKeepsTones(t *testing.T) {
	tests := []struct {
		rate, channels int
		freq           float64
	}{
		{44100, 1, 1000},
		{44100, 2, 1000},
		{48000, 2, 1000},
		{22050, 1, 440},
		{16000, 1, 3000},
		{11025, 1, 2000},
		{96000, 1, 1000},
		{44100, 1, 3000},
		{44100, 1, 3400}, // top of the telephone band
		{32000, 1, 300},
		{4000, 1, 1000}, // upsampling
		{8000, 2, 1000}, // downmix only
	}
	for _, tt := range tests {
		out := ToTelephony(sinePCM(tt.rate, tt.channels, tt.freq))
		if len(out) != TelephonyRate {
			t.Errorf("%d Hz: %d samples out of one second, want %d", tt.rate, len(out), TelephonyRate)
			continue
		}
		// Away from the edges, where the filter sees zeros past the ends.
		mid := out[200 : len(out)-200]
		if a := amplitude(mid, TelephonyRate, tt.freq); math.Abs(dB(a/16384)) > 0.5 {
			t.Errorf("%.0f Hz at %d Hz: amplitude %.0f after resampling, want 16384 ± 0.5 dB", tt.freq, tt.rate, a)
		}
		// Two zero crossings per period.
		want := 2 * tt.freq * float64(len(mid)) / TelephonyRate
		if got := zeroCrossings(mid); math.Abs(float64(got)-want) > 2 {
			t.Errorf("%.0f Hz at %d Hz: %d zero crossings, want %.0f", tt.freq, tt.rate, got, want)
		}
	}
}

func TestToTelephonyAntiAliasing(t *testing.T) {
	// Tones the output cannot represent must vanish, not fold back: plain
	// decimation would turn 6 kHz at 44.1 kHz into a loud 2 kHz.
	tests := []struct {
		rate int
		freq float64
	}{
		{44100, 6000},
		{44100, 4500},
		{48000, 7000},
		{48000, 12000},
		{16000, 5000},
		{22050, 10000},
	}
	for _, tt := range tests {
		out := ToTelephony(sinePCM(tt.rate, 1, tt.freq))
		mid := out[200 : len(out)-200]
		r := dB(rms(mid) / (16384 / math.Sqrt2))
		if r > -60 {
			t.Errorf("%.0f Hz at %d Hz: only %.1f dB down after resampling", tt.freq, tt.rate, r)
		}
		t.Logf("%.0f Hz at %d Hz: %.1f dB", tt.freq, tt.rate, r)
	}
}

func TestToTelephonyDownmix(t *testing.T) {
	// Opposite channels cancel; equal ones keep their level.
	p := &PCM{Rate: 8000, Channels: 2, Samples: []int16{1000, -1000, 32767, 32767, -32768, -32768, 3, 4}}
	if got, want := ToTelephony(p), []int16{0, 32767, -32768, 4}; !slices.Equal(got, want) {
		t.Errorf("downmix = %v, want %v", got, want)
	}
	mono := &PCM{Rate: 8000, Channels: 1, Samples: []int16{1, 2, 3}}
	out := ToTelephony(mono)
	out[0] = 99
	if mono.Samples[0] != 1 {
		t.Errorf("ToTelephony returned the caller's samples")
	}
	if out := ToTelephony(&PCM{Rate: 44100, Channels: 1}); len(out) != 0 {
		t.Errorf("empty input gave %d samples", len(out))
	}
}

func TestResampleFullScale(t *testing.T) {
	// A full-scale square wave overshoots when filtered; the output must
	// clip, not wrap around.
	p := &PCM{Rate: 44100, Channels: 1, Samples: make([]int16, 4410)}
	for i := range p.Samples {
		p.Samples[i] = math.MaxInt16
		if i/50%2 == 1 {
			p.Samples[i] = math.MinInt16
		}
	}
	out := ToTelephony(p)
	for i := 1; i < len(out); i++ {
		if d := int(out[i]) - int(out[i-1]); d > 60000 || d < -60000 {
			t.Fatalf("jump of %d at %d: wrapped around?", d, i)
		}
	}
}

// TestResampleDirect checks the tap-by-tap path, used for ratios whose
// polyphase bank would be too big, against the bank.
func TestResampleDirect(t *testing.T) {
	p := sinePCM(44100, 1, 1234)
	p.Samples = p.Samples[:4410]
	bank := resample(p.Samples, 44100, TelephonyRate)
	direct := make([]int16, len(bank))
	resampleDirect(direct, p.Samples, 44100, TelephonyRate, newKernel(44100, TelephonyRate))
	for i := range bank {
		if d := int(bank[i]) - int(direct[i]); d < -1 || d > 1 {
			t.Fatalf("sample %d: bank %d, direct %d", i, bank[i], direct[i])
		}
	}
	// An awkward rate takes the direct path and still keeps a tone.
	out := ToTelephony(sinePCM(44101, 1, 1000))
	if a := amplitude(out[200:len(out)-200], TelephonyRate, 1000); math.Abs(dB(a/16384)) > 0.5 {
		t.Errorf("1 kHz at 44101 Hz: amplitude %.0f", a)
	}
}

func BenchmarkToTelephony(b *testing.B) {
	p := sinePCM(44100, 2, 1000)
	b.ResetTimer()
	for b.Loop() {
		ToTelephony(p)
	}
}
