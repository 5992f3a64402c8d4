package sip

import (
	"context"

	"github.com/dialerd/dialerd/dialer"
)

// speak renders a voicetts text, held (SpeechHolder) until release when
// the Speaker can evict what it rendered.
func (g *Gateway) speak(ctx context.Context, m dialer.Media) (path string, release func(), err error) {
	text := dialer.NormalizeTTS(m.TTSText)
	if h, ok := g.cfg.TTS.(SpeechHolder); ok {
		return h.Hold(ctx, text, m.TTSVoice, m.TTSLanguage)
	}
	path, err = g.cfg.TTS.Speak(ctx, text, m.TTSVoice, m.TTSLanguage)
	return path, func() {}, err
}
