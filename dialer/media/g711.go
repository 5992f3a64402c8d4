package media

import "math/bits"

// G.711 companding (ITU-T G.711), on 16-bit linear samples.
//
// µ-law quantises the top 14 bits and A-law the top 13. Negative samples
// are taken in one's complement (-x-1) before quantising, as in the ITU-T
// G.191 reference, so that the quantiser is symmetric: x and -x-1 get codes
// that differ only in the sign bit.

const (
	ulawBias = 0x84 // 33 in 14-bit units: shifts every segment to start at a power of two
	ulawClip = 32635
)

// EncodeULaw compresses a 16-bit sample to a G.711 µ-law code.
func EncodeULaw(x int16) byte {
	mask := byte(0xFF) // codes are sent inverted; the sign bit set means positive
	v := int(x)
	if v < 0 {
		v = ^v
		mask = 0x7F
	}
	v = min(v, ulawClip) + ulawBias
	exp := bits.Len(uint(v>>7)) - 1 // 0..7: v is at least 0x84
	mant := (v >> (exp + 3)) & 0x0F
	return byte(exp<<4|mant) ^ mask
}

// DecodeULaw expands a G.711 µ-law code to a 16-bit sample, the middle of
// the code's quantisation interval.
func DecodeULaw(u byte) int16 {
	u = ^u
	exp := int(u>>4) & 0x07
	v := ((int(u&0x0F) << 3) + ulawBias) << exp
	v -= ulawBias
	if u&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeALaw compresses a 16-bit sample to a G.711 A-law code.
func EncodeALaw(x int16) byte {
	mask := byte(0xD5) // sign bit set for positive, even bits inverted
	v := int(x)
	if v < 0 {
		v = ^v
		mask = 0x55
	}
	v >>= 3 // 12-bit magnitude
	var exp, mant int
	if v < 32 {
		mant = v >> 1
	} else {
		exp = bits.Len(uint(v >> 5)) // 1..7
		mant = (v >> exp) & 0x0F
	}
	return byte(exp<<4|mant) ^ mask
}

// DecodeALaw expands a G.711 A-law code to a 16-bit sample, the middle of
// the code's quantisation interval.
func DecodeALaw(a byte) int16 {
	a ^= 0x55
	exp := int(a>>4) & 0x07
	v := int(a&0x0F)<<4 + 8 // +8: half a step, in 16-bit units
	if exp > 0 {
		v = (v + 0x100) << (exp - 1)
	}
	if a&0x80 != 0 {
		return int16(v)
	}
	return int16(-v)
}
