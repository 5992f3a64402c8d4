package media

import (
	"math"
	"slices"
)

// TelephonyRate is the sample rate of narrowband calls and of what
// ToTelephony returns.
const TelephonyRate = 8000

// Resampler design: the kernel is a Kaiser-windowed sinc kept as a finely
// sampled table (J. O. Smith's bandlimited interpolation). Ratios with few
// phases, which all the usual rates are, get a polyphase bank computed from
// it; any other ratio evaluates it at every tap.
const (
	// sincZeros is the number of sinc zero crossings kept on each side. With
	// the window below the transition band is about 600 Hz wide at 8 kHz.
	sincZeros = 32
	// sincSteps is the table resolution per zero crossing; linear
	// interpolation between entries then errs by well under -100 dB.
	sincSteps = 512
	// kaiserBeta sets the stop band near -80 dB, below what G.711 resolves.
	kaiserBeta = 8.0
	// passFraction places the cutoff at this fraction of the lower Nyquist
	// frequency (3700 Hz at 8 kHz), so the transition band ends near 4 kHz
	// and aliases, if any, fall above the 300-3400 Hz telephone band.
	passFraction = 0.925
)

// ToTelephony returns p as 8 kHz mono: channels are averaged, then the
// signal is low-pass filtered below 4 kHz and resampled, so that content
// above the new Nyquist frequency is removed rather than aliased.
func ToTelephony(p *PCM) []int16 {
	mono := downmix(p)
	switch {
	case p.Rate != TelephonyRate:
		return resample(mono, p.Rate, TelephonyRate)
	case p.Channels <= 1:
		return slices.Clone(mono) // never alias the caller's samples
	default:
		return mono
	}
}

// downmix averages the channels of p. Mono input is returned as is.
func downmix(p *PCM) []int16 {
	ch := p.Channels
	if ch <= 1 {
		return p.Samples
	}
	out := make([]int16, len(p.Samples)/ch)
	for i := range out {
		sum := 0
		for _, s := range p.Samples[i*ch : (i+1)*ch] {
			sum += int(s)
		}
		out[i] = int16(math.Round(float64(sum) / float64(ch)))
	}
	return out
}

// maxBank bounds the coefficients precomputed for a polyphase filter bank
// (8 MiB); ratios that would need more are filtered tap by tap instead.
const maxBank = 1 << 20

// resample converts x from rate from to rate to.
func resample(x []int16, from, to int) []int16 {
	if len(x) == 0 || from <= 0 || to <= 0 {
		return nil
	}
	k := newKernel(from, to)
	n := (int64(len(x))*int64(to) + int64(from) - 1) / int64(from)
	out := make([]int16, n)

	// Output sample i sits at input time i·from/to = i·m/l. Its integer
	// part picks the input window, its fraction (one of l phases) the
	// coefficients; every tap m of the window is within reach of some phase.
	g := gcd(from, to)
	l, m := to/g, from/g
	w := int(k.reach) + 1
	taps := 2*w + 1
	if l*taps > maxBank {
		resampleDirect(out, x, from, to, k)
		return out
	}
	bank := make([]float64, l*taps)
	for phase := range l {
		frac := float64(phase) / float64(l)
		for j := range taps {
			bank[phase*taps+j] = k.at(frac - float64(j-w))
		}
	}
	for i := range out {
		pos := int64(i) * int64(m)
		phase := int(pos % int64(l))
		lo := int(pos/int64(l)) - w // input index of tap 0
		c := bank[phase*taps : (phase+1)*taps]
		var acc float64
		for j := max(0, -lo); j < min(taps, len(x)-lo); j++ {
			acc += float64(x[lo+j]) * c[j]
		}
		out[i] = clampInt16(acc)
	}
	return out
}

// resampleDirect fills out from x by evaluating the kernel at every tap, for
// ratios whose polyphase bank would be too large.
func resampleDirect(out, x []int16, from, to int, k kernel) {
	ratio := float64(from) / float64(to)
	for i := range out {
		t := float64(i) * ratio
		lo := max(int(math.Ceil(t-k.reach)), 0)
		hi := min(int(math.Floor(t+k.reach)), len(x)-1)
		var acc float64
		for j := lo; j <= hi; j++ {
			acc += float64(x[j]) * k.at(t-float64(j))
		}
		out[i] = clampInt16(acc)
	}
}

// kernel is the low-pass interpolation kernel for one conversion.
type kernel struct {
	table []float64 // sinc·window from 0 to sincZeros zero crossings
	scale float64   // cutoff as a fraction of the input Nyquist frequency
	reach float64   // half-width, in input samples
	step  float64   // table entries per input sample
}

// newKernel stretches the kernel by 1/scale and scales its gain by scale,
// so that when downsampling it removes what the output cannot represent.
func newKernel(from, to int) kernel {
	scale := passFraction * float64(min(from, to)) / float64(from)
	return kernel{
		table: sincTable(),
		scale: scale,
		reach: sincZeros / scale,
		step:  scale * sincSteps,
	}
}

// at returns the kernel d input samples from its centre.
func (k kernel) at(d float64) float64 {
	pos := math.Abs(d) * k.step
	j := int(pos)
	if j >= len(k.table)-1 {
		return 0
	}
	frac := pos - float64(j)
	return k.scale * (k.table[j] + frac*(k.table[j+1]-k.table[j]))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// sincTable samples sinc(u)·kaiser(u/sincZeros) for u in [0, sincZeros] at
// sincSteps points per unit; the last entry is zero.
func sincTable() []float64 {
	t := make([]float64, sincZeros*sincSteps+1)
	norm := besselI0(kaiserBeta)
	for i := range t {
		u := float64(i) / sincSteps
		s := 1.0
		if i > 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		r := u / sincZeros
		t[i] = s * besselI0(kaiserBeta*math.Sqrt(max(0, 1-r*r))) / norm
	}
	return t
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series, which converges quickly for the β of a Kaiser window.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1.0; term > 1e-12*sum; k++ {
		term *= q / (k * k)
		sum += term
	}
	return sum
}

func clampInt16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
