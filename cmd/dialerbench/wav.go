package main

import (
	"encoding/binary"
	"math"
	"time"
)

// telephonyWAV is a 440 Hz tone of length d as a WAV file in the format
// dialerd plays without conversion: 8 kHz, 16-bit, mono.
func telephonyWAV(d time.Duration) []byte {
	const rate = 8000
	n := int(d.Seconds() * rate)
	data := make([]byte, 2*n)
	for i := range n {
		s := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(s))
	}
	out := make([]byte, 0, 44+len(data))
	out = append(out, "RIFF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(36+len(data)))
	out = append(out, "WAVEfmt "...)
	out = binary.LittleEndian.AppendUint32(out, 16)     // fmt chunk size
	out = binary.LittleEndian.AppendUint16(out, 1)      // PCM
	out = binary.LittleEndian.AppendUint16(out, 1)      // mono
	out = binary.LittleEndian.AppendUint32(out, rate)   // sample rate
	out = binary.LittleEndian.AppendUint32(out, rate*2) // byte rate
	out = binary.LittleEndian.AppendUint16(out, 2)      // block align
	out = binary.LittleEndian.AppendUint16(out, 16)     // bits per sample
	out = append(out, "data"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}
