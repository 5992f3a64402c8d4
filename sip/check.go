package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/dialerd/dialerd/dialer"
)

// Errors of CheckAttempt, wrapped in a dialer content fault.
var (
	ErrNoTTS        = errors.New("sip: no text-to-speech for voicetts on SIP trunks: install espeak-ng (Debian package espeak-ng) or set media.espeak")
	ErrNotWAV       = errors.New("sip: the recording is not a readable WAV file")
	ErrNoRecording  = errors.New("sip: voicemessage without a recording")
	ErrTrunkIsDown  = errors.New("sip: trunk is down")
	errBadTransport = errors.New("sip: transport must be udp or tcp")
)

// CheckAttempt is the gateway's own validation of an attempt
// (dialer.AttemptChecker): what it would dial with and what it would
// carry. It looks at the recording file but sends nothing. Each refusal is
// a dialer content fault naming the API field to fix: "program", "prefix",
// "username", "host", "port", "transport", "phone", "recording_id", "text",
// or the config key ConfigKeyTTS for voicetts without a Speaker.
// A destination that is not E.164 is the callee's invalid number.
//
// What an attempt leaves empty is not checked, so the API can check a
// provider alone (no program, no phone) or a program alone (a zero Route):
// an empty Program, Phone or Route is skipped. A voicemessage without a
// recording is refused. Deliver checks the whole attempt.
func (g *Gateway) CheckAttempt(a dialer.Attempt) error {
	switch a.Program {
	case "", dialer.ProgramVoiceMessage, dialer.ProgramSendSMS:
	case dialer.ProgramVoiceTTS:
		if g.cfg.TTS == nil {
			// The daemon's configuration, named by its key.
			return dialer.ContentFault(ConfigKeyTTS, ErrNoTTS)
		}
	default:
		return dialer.ContentFault("program", fmt.Errorf("%w: %q", ErrUnsupportedProgram, a.Program))
	}
	if a.Provider != (dialer.Route{}) {
		if err := checkRoute(a.Provider); err != nil {
			return err
		}
	}
	if a.Phone != "" {
		if _, err := destinationUser(a.Phone, ""); err != nil {
			return &dialer.FaultError{Fault: dialer.FaultCallee, Cause: dialer.CauseInvalidNumber, Field: "phone", Err: err}
		}
	}
	if _, err := callerUser(a.CallerIDNumber); err != nil {
		return dialer.ContentFault("phone", err)
	}
	if a.CallUUID != "" && !validCallID(a.CallUUID) {
		return dialer.ContentFault("call_uuid", dialer.InvalidField("call_uuid", "must be a UUID"))
	}
	switch a.Program {
	case dialer.ProgramVoiceMessage:
		if err := checkRecording(a.Media.RecordingPath); err != nil {
			return dialer.ContentFault("recording_id", err)
		}
		if err := checkCallOptions(a.Media); err != nil {
			return err
		}
	case dialer.ProgramVoiceTTS:
		// The one text rule of every gateway that speaks.
		if err := dialer.CheckTTSText(a.Media.TTSText); err != nil {
			return dialer.ContentFault("text", fmt.Errorf("sip: %w", err))
		}
		if vc, ok := g.cfg.TTS.(VoiceChecker); ok {
			if field, err := vc.CheckVoice(a.Media.TTSLanguage, a.Media.TTSVoice); err != nil {
				return dialer.ContentFault(field, err)
			}
		}
		if err := checkCallOptions(a.Media); err != nil {
			return err
		}
	case dialer.ProgramSendSMS:
		segments := a.Media.Segments
		if len(segments) == 0 {
			segments = []string{a.Media.Text}
		}
		for _, s := range segments {
			if s == "" || !utf8.ValidString(s) {
				return dialer.ContentFault("text", dialer.InvalidField("text", "must be non-empty UTF-8"))
			}
		}
	}
	return nil
}

// checkCallOptions checks the opt-out key, its confirmation and the
// answering-machine policy: this gateway detects machines itself, so every
// policy is carried.
func checkCallOptions(m dialer.Media) error {
	if m.OptOutDigit != "" && !dialer.ValidOptOutDigit(m.OptOutDigit) {
		return dialer.ContentFault("opt_out_digit", dialer.InvalidField("opt_out_digit", "one of 0-9, * or #"))
	}
	if m.OptOutConfirmPath != "" {
		if err := checkRecording(m.OptOutConfirmPath); err != nil {
			return dialer.ContentFault("opt_out_recording_id", err)
		}
	}
	if !m.OnMachine.Valid() {
		return dialer.ContentFault("on_machine", dialer.InvalidField("on_machine", "one of play_after_beep, hang_up or play"))
	}
	return nil
}

// checkRoute validates the provider fields a call is addressed with.
func checkRoute(r dialer.Route) error {
	if r.Prefix != "" && (!allDigits(r.Prefix) || len(r.Prefix) > maxPrefixDigits) {
		return dialer.ContentFault("prefix", dialer.InvalidField("prefix", fmt.Sprintf("must be up to %d digits", maxPrefixDigits)))
	}
	if _, err := sipUser("username", r.Username); err != nil {
		return dialer.ContentFault("username", err)
	}
	if !validHost(r.Host) {
		return dialer.ContentFault("host", dialer.InvalidField("host", "must be an IP address or a host name"))
	}
	if r.Port < 0 || r.Port > 65535 {
		return dialer.ContentFault("port", dialer.InvalidField("port", "must be 1 to 65535"))
	}
	switch strings.ToLower(r.Transport) {
	case "", "udp", "tcp":
	default:
		return dialer.ContentFault("transport", errBadTransport)
	}
	return nil
}

// checkRecording checks that path is a readable RIFF/WAVE file, reading
// only its header (the decoder reads the rest when the call is placed).
func checkRecording(path string) error {
	if path == "" {
		return ErrNoRecording
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotWAV, err)
	}
	defer f.Close()
	var head [12]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotWAV, path, err)
	}
	if !bytes.Equal(head[0:4], []byte("RIFF")) || !bytes.Equal(head[8:12], []byte("WAVE")) {
		return fmt.Errorf("%w: %s", ErrNotWAV, path)
	}
	return nil
}

// Place (dialer.Placer) runs on the engine's loop and does no I/O: it
// refuses a trunk this gateway knows is down, so nothing is spent on it.
// A trunk whose state is unknown (not watched, or not probed yet) is
// tried: its first INVITE is the probe.
func (g *Gateway) Place(a dialer.Attempt) (dialer.Route, error) {
	g.mu.Lock()
	h, watched := g.health[a.Provider.ProviderID]
	g.mu.Unlock()
	if watched && h.State == TrunkDown {
		return a.Provider, dialer.RouteFault(causeTrunkDown, fmt.Errorf("%w: provider %d, no answer to OPTIONS since %s",
			ErrTrunkIsDown, a.Provider.ProviderID, h.LastChange.UTC().Format("15:04:05")))
	}
	return a.Provider, nil
}
