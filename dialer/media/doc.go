// Package media checks and converts what users upload for transmissions:
// recordings to play on calls and documents to fax; it also renders
// voicetts texts with espeak-ng (Espeak) and keeps received faxes as PDF
// (TIFF2PDF).
//
// Audio is recognised by its content, never its name: WAV (integer PCM,
// IEEE float, G.711 µ-law and A-law, WAVE_FORMAT_EXTENSIBLE) is parsed here,
// MP3 is decoded with github.com/hajimehoshi/go-mp3. Everything is turned
// into telephony audio, 8 kHz 16-bit mono, with a windowed-sinc resampler so
// that what lies above 4 kHz is filtered out rather than folded back into
// the call. The G.711 codecs are here too, for the SIP gateway's RTP.
//
// Uploads are untrusted: every decoder reads at most the byte limit it is
// given, caps what it decodes (MaxSamples, MaxDuration), and reports bad
// input as a *dialer.Error with dialer.CodeInvalid on the field "file",
// wrapping one of this package's Error kinds for errors.Is.
package media
