package sip

// G.711 encoders (ITU-T G.711), used until the shared dialer/media codec
// lands; see doc.go.

// encoderFor returns the frame encoder of a codec chosen from the answer.
func encoderFor(name string) func(dst []byte, pcm []int16) {
	if name == "PCMA" {
		return func(dst []byte, pcm []int16) {
			for i, s := range pcm {
				dst[i] = linearToALaw(s)
			}
		}
	}
	return func(dst []byte, pcm []int16) {
		for i, s := range pcm {
			dst[i] = linearToULaw(s)
		}
	}
}

// linearToULaw encodes one 16-bit sample as μ-law: bias, find the segment
// (the position of the highest set bit), keep four mantissa bits, invert.
func linearToULaw(sample int16) byte {
	const bias, clip = 0x84, 32635
	v := int(sample)
	var sign byte
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mantissa := (v >> (exp + 3)) & 0x0f
	return ^(sign | byte(exp<<4) | byte(mantissa))
}

// linearToALaw encodes one 16-bit sample as A-law: 13 significant bits,
// segment and four mantissa bits, even bits inverted (0x55).
func linearToALaw(sample int16) byte {
	v := int(sample) >> 3
	mask := byte(0xd5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := 0
	for end := 0x1f; seg < 8 && v > end; end = end<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	aval := byte(seg << 4)
	if seg < 2 {
		aval |= byte(v>>1) & 0x0f
	} else {
		aval |= byte(v>>seg) & 0x0f
	}
	return aval ^ mask
}
