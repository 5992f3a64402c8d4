package esl

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// testMedia holds the media files the gateway's tests play and send: the
// gateway refuses a file that is not there, and the fake FreeSWITCH opens
// playback and txfax files as the real one does.
var testMedia struct {
	dir, wav, tif, pdf string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "esl-media-")
	if err != nil {
		panic(err)
	}
	testMedia.dir = dir
	testMedia.wav = writeMedia(dir, "ab/cd.wav", wavBytes(800))
	// A TIFF header is all the fake reads of a TIFF.
	testMedia.tif = writeMedia(dir, "ef/doc.tif", []byte("II*\x00\x08\x00\x00\x00"))
	testMedia.pdf = writeMedia(dir, "ef/doc.pdf.tif", []byte("%PDF-1.4\n%%EOF\n"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeMedia(dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		panic(err)
	}
	return p
}

// wavBytes is a mono 16-bit 8 kHz WAV of n samples of silence.
func wavBytes(n int) []byte {
	data := make([]byte, 2*n)
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}
