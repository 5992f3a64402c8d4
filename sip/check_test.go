package sip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// TestCheckAttempt: what this gateway cannot carry is a content fault
// naming the field, from CheckAttempt and from Deliver alike, with nothing
// sent. Before: validation errors or plain errors, which the engine
// charged to the provider as GATEWAY_ERROR and backed it off; a 16-digit
// prefix the API accepts was refused (the gateway took 10).
func TestCheckAttempt(t *testing.T) {
	dir := t.TempDir()
	wav := writeWAV(t, tone(20*time.Millisecond))
	notWAV := filepath.Join(dir, "message.wav")
	if err := os.WriteFile(notWAV, []byte("ID3 not a wave file"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-0000000000cc", Program: dialer.ProgramVoiceMessage,
		Phone: "+15551230001", CallerIDNumber: "+15550000000",
		Provider: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Port: 9, Username: "trunk1"},
		Media:    dialer.Media{RecordingPath: wav},
	}
	tests := []struct {
		name   string
		mutate func(*dialer.Attempt)
		fault  dialer.Fault // FaultNone: accepted
		field  string
	}{
		{"valid", func(*dialer.Attempt) {}, dialer.FaultNone, ""},
		{"a provider alone", func(a *dialer.Attempt) { a.Program, a.Phone, a.CallerIDNumber, a.Media = "", "", "", dialer.Media{} }, dialer.FaultNone, ""},
		{"a program alone", func(a *dialer.Attempt) { a.Provider, a.Phone = dialer.Route{}, "" }, dialer.FaultNone, ""},
		{"16-digit prefix", func(a *dialer.Attempt) { a.Provider.Prefix = strings.Repeat("9", 16) }, dialer.FaultNone, ""},
		{"17-digit prefix", func(a *dialer.Attempt) { a.Provider.Prefix = strings.Repeat("9", 17) }, dialer.FaultContent, "prefix"},
		{"prefix not digits", func(a *dialer.Attempt) { a.Provider.Prefix = "00#" }, dialer.FaultContent, "prefix"},
		{"username with @", func(a *dialer.Attempt) { a.Provider.Username = "trunk@evil" }, dialer.FaultContent, "username"},
		{"username too long", func(a *dialer.Attempt) { a.Provider.Username = strings.Repeat("u", 65) }, dialer.FaultContent, "username"},
		{"host with parameters", func(a *dialer.Attempt) { a.Provider.Host = "trunk.example;transport=tcp" }, dialer.FaultContent, "host"},
		{"no host", func(a *dialer.Attempt) { a.Provider.Host = "" }, dialer.FaultContent, "host"},
		{"transport tls", func(a *dialer.Attempt) { a.Provider.Transport = "tls" }, dialer.FaultContent, "transport"},
		{"voicetts without a speech engine", func(a *dialer.Attempt) { a.Program = dialer.ProgramVoiceTTS; a.Media.TTSText = "hello" }, dialer.FaultContent, ConfigKeyTTS},
		{"sendfax", func(a *dialer.Attempt) { a.Program = dialer.ProgramSendFax }, dialer.FaultContent, "program"},
		{"no recording", func(a *dialer.Attempt) { a.Media.RecordingPath = "" }, dialer.FaultContent, "recording_id"},
		{"missing recording", func(a *dialer.Attempt) { a.Media.RecordingPath = filepath.Join(dir, "gone.wav") }, dialer.FaultContent, "recording_id"},
		{"recording not a WAV", func(a *dialer.Attempt) { a.Media.RecordingPath = notWAV }, dialer.FaultContent, "recording_id"},
		{"recording a directory", func(a *dialer.Attempt) { a.Media.RecordingPath = dir }, dialer.FaultContent, "recording_id"},
		{"caller id with letters", func(a *dialer.Attempt) { a.CallerIDNumber = "1001>;x=y" }, dialer.FaultContent, "phone"},
		{"caller id too long", func(a *dialer.Attempt) { a.CallerIDNumber = strings.Repeat("1", 21) }, dialer.FaultContent, "phone"},
		{"destination not E.164", func(a *dialer.Attempt) { a.Phone = "5551230001" }, dialer.FaultCallee, "phone"},
		{"sms without text", func(a *dialer.Attempt) { a.Program = dialer.ProgramSendSMS }, dialer.FaultContent, "text"},
	}
	g := newTestGateway(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			tt.mutate(&a)
			err := g.CheckAttempt(a)
			if tt.fault == dialer.FaultNone {
				if err != nil {
					t.Fatalf("CheckAttempt: %v", err)
				}
				return
			}
			fe := dialer.FaultOf(err)
			if fe == nil || fe.Fault != tt.fault || fe.Field != tt.field {
				t.Fatalf("CheckAttempt = %v, want a %s fault naming %q", err, tt.fault, tt.field)
			}
			if tt.fault == dialer.FaultContent {
				if v := dialer.ClassifyError(err); v.Disposition != dialer.Final || v.Field != tt.field {
					t.Errorf("classified %+v", v)
				}
			}
			// Deliver refuses it the same way, before the network.
			_, derr := g.Deliver(testContext(t), a, nil)
			if dfe := dialer.FaultOf(derr); dfe == nil || dfe.Fault != tt.fault || dfe.Field != tt.field {
				t.Errorf("Deliver = %v", derr)
			}
		})
	}
}
