package api

import (
	"context"
	"testing"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/sip"
)

type speakerFunc func(ctx context.Context, text, voice, language string) (string, error)

func (f speakerFunc) Speak(ctx context.Context, text, voice, language string) (string, error) {
	return f(ctx, text, voice, language)
}

// TestProgramVoiceTTSOnSIPTrunk: with only a SIP trunk, a voicetts
// program is checked by the SIP gateway itself (the real sip.Gateway
// behind the daemon's router): accepted when it has a speech engine,
// refused by the one text rule both gateways apply, and refused naming
// media.espeak when espeak-ng is missing. Before: refused naming "program"
// whatever was installed ("the SIP gateway has no text-to-speech").
func TestProgramVoiceTTSOnSIPTrunk(t *testing.T) {
	for _, speaks := range []bool{true, false} {
		cfg := sip.Config{ListenAddr: "127.0.0.1:0"}
		if speaks {
			cfg.TTS = speakerFunc(func(context.Context, string, string, string) (string, error) { return "", nil })
		}
		gw, err := sip.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Close() })
		router := dialer.NewGatewayRouter(map[int64]dialer.Gateway{dialer.GatewaySIP: gw})
		w := newWorld(t, withMessages(t), func(d *Deps) { d.Checker = router })
		w.createProvider(w.admin, map[string]any{"name": "sip", "host": "10.0.0.9", "gateway_flag": dialer.GatewaySIP, "service_flag": dialer.ServiceVoice})
		body := map[string]any{"name": "p", "text": "Your appointment is at ten.", "language": "en-US"}
		if !speaks {
			w.rejected("POST", "/programs/voicetts", w.admin, body, 412, "media.espeak")
			continue
		}
		w.expect(w.do("POST", "/programs/voicetts", w.admin, body), 200)
		for _, text := range []string{"${x}", "a|b", "<speak>x</speak>"} {
			w.rejected("POST", "/programs/voicetts", w.admin, map[string]any{"name": "bad", "text": text}, 412, "text")
		}
	}
}
