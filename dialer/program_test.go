package dialer

import (
	"strings"
	"testing"
)

func refID(n int64) *int64 { return &n }

func TestValidateProgram(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     Program
		field string // "" when valid
	}{
		{"sendsms", Program{Name: "a", Type: ProgramSendSMS, TextID: refID(1)}, ""},
		{"sendsms without text", Program{Name: "a", Type: ProgramSendSMS}, "text_id"},
		{"sendsms with a recording", Program{Name: "a", Type: ProgramSendSMS, TextID: refID(1), RecordingID: refID(2)}, "recording_id"},
		{"sendemail", Program{Name: "a", Type: ProgramSendEmail, TemplateID: refID(1)}, ""},
		{"sendfax", Program{Name: "a", Type: ProgramSendFax, DocumentID: refID(1)}, ""},
		{"sendfax, zero id", Program{Name: "a", Type: ProgramSendFax, DocumentID: refID(0)}, "document_id"},
		{"voicemessage", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1)}, ""},
		{"receivesms", Program{Name: "a", Type: ProgramReceiveSMS, AccountID: refID(1)}, ""},
		{"faxtoemail without account", Program{Name: "a", Type: ProgramFaxToEmail}, "account_id"},
		{"parent", Program{Name: "a", Type: ProgramEmailToFax, AccountID: refID(1), ParentID: refID(3)}, ""},
		{"bad parent", Program{Name: "a", Type: ProgramEmailToFax, AccountID: refID(1), ParentID: refID(-3)}, "parent_id"},
		{"no name", Program{Name: "  ", Type: ProgramSendSMS, TextID: refID(1)}, "name"},
		{"name with newline", Program{Name: "a\nb", Type: ProgramSendSMS, TextID: refID(1)}, "name"},
		{"unknown type", Program{Name: "a", Type: "dial"}, "type"},
		{"text on sendsms", Program{Name: "a", Type: ProgramSendSMS, TextID: refID(1), TTSText: "hi"}, "text"},
		{"tts inline", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "Hello, world!", TTSVoice: "kal", TTSLanguage: "en-us"}, ""},
		{"tts stored text", Program{Name: "a", Type: ProgramVoiceTTS, TextID: refID(4)}, ""},
		{"tts both", Program{Name: "a", Type: ProgramVoiceTTS, TextID: refID(4), TTSText: "x"}, "text"},
		{"tts neither", Program{Name: "a", Type: ProgramVoiceTTS}, "text"},
		{"tts blank", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "   "}, "text"},
		{"tts newline", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "hi\nexit"}, "text"},
		{"tts too long", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: strings.Repeat("é", MaxTTSText+1)}, "text"},
		{"tts longest", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: strings.Repeat("é", MaxTTSText)}, ""},
		{"tts bad utf-8", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "a\xffb"}, "text"},
		{"tts voice", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", TTSVoice: "kal|x"}, "voice"},
		{"tts language", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", TTSLanguage: "english"}, "language"},
		{"tts language region", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", TTSLanguage: "en-USA"}, "language"},
		{"tts with account", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", AccountID: refID(1)}, "account_id"},
		{"opt-out digit", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutDigit: "9"}, ""},
		{"opt-out star with confirmation", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", OptOutDigit: "*", OptOutRecordingID: refID(2)}, ""},
		{"opt-out hash", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutDigit: "#"}, ""},
		{"opt-out letter", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutDigit: "A"}, "opt_out_digit"},
		{"opt-out two keys", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutDigit: "12"}, "opt_out_digit"},
		{"opt-out on sms", Program{Name: "a", Type: ProgramSendSMS, TextID: refID(1), OptOutDigit: "9"}, "opt_out_digit"},
		{"confirmation without digit", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutRecordingID: refID(2)}, "opt_out_recording_id"},
		{"confirmation zero id", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OptOutDigit: "9", OptOutRecordingID: refID(0)}, "opt_out_recording_id"},
		{"confirmation on fax", Program{Name: "a", Type: ProgramSendFax, DocumentID: refID(1), OptOutRecordingID: refID(2)}, "opt_out_recording_id"},
		{"on_machine play_after_beep", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OnMachine: MachinePlayAfterBeep}, ""},
		{"on_machine hang_up", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OnMachine: MachineHangUp}, ""},
		{"on_machine play", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OnMachine: MachinePlay}, ""},
		{"on_machine unknown", Program{Name: "a", Type: ProgramVoiceMessage, RecordingID: refID(1), OnMachine: "beep"}, "on_machine"},
		{"on_machine on tts", Program{Name: "a", Type: ProgramVoiceTTS, TTSText: "x", OnMachine: MachineHangUp}, "on_machine"},
	} {
		var v Invalid
		ValidateProgram(&tc.p, &v)
		fields := fieldErrorsOf(v.Err())
		if tc.field == "" && fields != nil {
			t.Errorf("%s: rejected: %v", tc.name, fields)
		}
		if tc.field != "" && fields[tc.field] == "" {
			t.Errorf("%s: fields %v lack %s", tc.name, fields, tc.field)
		}
	}
	p := Program{Name: " x ", Type: ProgramVoiceTTS, TTSText: "x", TTSLanguage: "PT-br"}
	var v Invalid
	ValidateProgram(&p, &v)
	if p.TTSLanguage != "pt-BR" || p.Name != "x" {
		t.Errorf("not canonicalised: %+v", p)
	}
	for _, typ := range ProgramTypes() {
		if !typ.Valid() {
			t.Errorf("%s is not valid", typ)
		}
	}
}

func TestValidateAccount(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     Account
		field string
	}{
		{"extension", Account{Type: AccountExtension, Username: "1001", Active: 1}, ""},
		{"extension without username", Account{Type: AccountExtension, Active: 1}, "username"},
		{"did", Account{Type: AccountDID, Phone: "+923001234567", Active: 1}, ""},
		{"did, national number", Account{Type: AccountDID, Phone: "03001234567", Active: 1}, "phone"},
		{"did, letters", Account{Type: AccountDID, Phone: "+92300abc", Active: 1}, "phone"},
		{"email", Account{Type: AccountEmail, Email: "desk@example.com", Active: 1}, ""},
		{"email missing", Account{Type: AccountEmail, Active: 1}, "email"},
		{"email with name", Account{Type: AccountEmail, Email: "Desk <desk@example.com>", Active: 1}, "email"},
		{"unknown type", Account{Type: "fax", Active: 1}, "type"},
		{"bad username", Account{Type: AccountExtension, Username: "a b", Active: 1}, "username"},
		{"bad phone", Account{Type: AccountExtension, Username: "1", Phone: "12-34", Active: 1}, "phone"},
		{"active", Account{Type: AccountExtension, Username: "1", Active: 2}, "active"},
		{"long name", Account{Type: AccountExtension, Username: "1", FirstName: strings.Repeat("a", 256), Active: 1}, "first_name"},
	} {
		var v Invalid
		ValidateAccount(&tc.a, &v)
		fields := fieldErrorsOf(v.Err())
		if tc.field == "" && fields != nil {
			t.Errorf("%s: rejected: %v", tc.name, fields)
		}
		if tc.field != "" && fields[tc.field] == "" {
			t.Errorf("%s: fields %v lack %s", tc.name, fields, tc.field)
		}
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		s     AccountSecrets
		field string
	}{
		{AccountSecrets{}, ""},
		{AccountSecrets{Passwd: str(""), Pin: str("")}, ""},
		{AccountSecrets{Passwd: str("long-enough"), Pin: str("1234")}, ""},
		{AccountSecrets{Passwd: str("short")}, "passwd"},
		{AccountSecrets{Passwd: str("new\nline-password")}, "passwd"},
		{AccountSecrets{Pin: str("12a4")}, "passwd_pin"},
		{AccountSecrets{Pin: str("123")}, "passwd_pin"},
	} {
		var v Invalid
		ValidateAccountSecrets(tc.s, &v)
		fields := fieldErrorsOf(v.Err())
		if (tc.field == "") != (fields == nil) || (tc.field != "" && fields[tc.field] == "") {
			t.Errorf("secrets %v: fields %v, want %q", tc.s, fields, tc.field)
		}
	}
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"voicemail.enabled", "yes", true},
		{"codec_prefs", "PCMU,PCMA\twith tab", true},
		{"Upper", "x", false},
		{"", "x", false},
		{"a/b", "x", false},
		{strings.Repeat("n", 65), "x", false},
		{"ok", "line\nbreak", false},
		{"ok", strings.Repeat("v", MaxAccountSetting+1), false},
		{"ok", "\xff", false},
	} {
		var v Invalid
		ValidateAccountSetting(tc.name, tc.value, &v)
		if (v.Err() == nil) != tc.ok {
			t.Errorf("setting %q=%q: %v, want ok=%v", tc.name, tc.value, v.Err(), tc.ok)
		}
	}
}
