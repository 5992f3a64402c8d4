package media

import (
	"math"
	"testing"
)

func TestG711KnownPoints(t *testing.T) {
	// Decoding, A-law encoding and µ-law encoding of samples >= 0 agree
	// with every reference implementation. For negative samples µ-law
	// references differ by one 14-bit step at decision boundaries: we follow
	// ITU-T G.191 (one's complement), which the symmetry test below pins.
	tests := []struct {
		x          int16
		ulaw, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{1, 0xFF, 0xD5},
		{3, 0xFF, 0xD5},
		{4, 0xFE, 0xD5},
		{8, 0xFE, 0xD5},
		{100, 0xF2, 0xD3},
		{1000, 0xCE, 0xFA},
		{4000, 0xAF, 0x9A},
		{12345, 0x97, 0xBD},
		{32635, 0x80, 0xAA},
		{32767, 0x80, 0xAA},
		{-1, 0x7F, 0x55},
		{-32768, 0x00, 0x2A},
	}
	for _, tt := range tests {
		if got := EncodeULaw(tt.x); got != tt.ulaw {
			t.Errorf("EncodeULaw(%d) = %#02x, want %#02x", tt.x, got, tt.ulaw)
		}
		if got := EncodeALaw(tt.x); got != tt.alaw {
			t.Errorf("EncodeALaw(%d) = %#02x, want %#02x", tt.x, got, tt.alaw)
		}
	}

	decodes := []struct {
		code       byte
		ulaw, alaw int16
	}{
		{0xFF, 0, 848},
		{0x7F, 0, -848}, // µ-law's negative zero
		{0x80, 32124, 5504},
		{0x00, -32124, -5504},
		{0xD5, 716, 8},
		{0x55, -716, -8},
		{0xAA, 5372, 32256},
		{0x2A, -5372, -32256},
		{0xCE, 988, 440},
		{0xFA, 40, 1008},
	}
	for _, tt := range decodes {
		if got := DecodeULaw(tt.code); got != tt.ulaw {
			t.Errorf("DecodeULaw(%#02x) = %d, want %d", tt.code, got, tt.ulaw)
		}
		if got := DecodeALaw(tt.code); got != tt.alaw {
			t.Errorf("DecodeALaw(%#02x) = %d, want %d", tt.code, got, tt.alaw)
		}
	}
}

func TestG711RoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		code := byte(c)
		if got := EncodeALaw(DecodeALaw(code)); got != code {
			t.Errorf("A-law %#02x decodes to %d, which encodes to %#02x", code, DecodeALaw(code), got)
		}
		want := code
		if code == 0x7F {
			want = 0xFF // negative zero decodes to 0, which is positive zero
		}
		if got := EncodeULaw(DecodeULaw(code)); got != want {
			t.Errorf("µ-law %#02x decodes to %d, which encodes to %#02x", code, DecodeULaw(code), got)
		}
	}
}

func TestG711Properties(t *testing.T) {
	prevU, prevA := DecodeULaw(EncodeULaw(math.MinInt16)), DecodeALaw(EncodeALaw(math.MinInt16))
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		x := int16(i)
		// Symmetry: x and -x-1 differ only in the sign bit.
		if EncodeULaw(x)^EncodeULaw(^x) != 0x80 {
			t.Fatalf("µ-law codes of %d and %d are not mirror images", x, ^x)
		}
		if EncodeALaw(x)^EncodeALaw(^x) != 0x80 {
			t.Fatalf("A-law codes of %d and %d are not mirror images", x, ^x)
		}
		// Monotonic, and within half a step: steps double per segment, so
		// the error is bounded relative to the sample, plus the smallest step.
		u, a := DecodeULaw(EncodeULaw(x)), DecodeALaw(EncodeALaw(x))
		if u < prevU || a < prevA {
			t.Fatalf("companding is not monotonic at %d", x)
		}
		prevU, prevA = u, a
		mag := math.Abs(float64(x))
		if e := math.Abs(float64(u) - float64(x)); e > mag/32+8 && mag < 32124 {
			t.Fatalf("µ-law error at %d: decoded %d", x, u)
		}
		if e := math.Abs(float64(a) - float64(x)); e > mag/32+16 && mag < 32256 {
			t.Fatalf("A-law error at %d: decoded %d", x, a)
		}
	}
}
