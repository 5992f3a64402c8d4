package dialer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Program says what a transmission does. Field names follow the ICTCore
// Program object and its per-type extensions; each type points at exactly
// one thing (see ProgramType.Reference), except voicetts, which may carry
// its text inline instead.
type Program struct {
	ID       int64       `json:"program_id"`
	TenantID string      `json:"-"`
	Name     string      `json:"name"`
	Type     ProgramType `json:"type"`
	// ParentID is the program this one belongs to, nil for none.
	ParentID *int64 `json:"parent_id"`

	AccountID   *int64 `json:"account_id,omitempty"`
	DocumentID  *int64 `json:"document_id,omitempty"`
	RecordingID *int64 `json:"recording_id,omitempty"`
	TemplateID  *int64 `json:"template_id,omitempty"`
	TextID      *int64 `json:"text_id,omitempty"`

	// voicetts only: the text spoken (unless TextID names a stored text),
	// the voice and the language; empty voice and language mean the
	// gateway's defaults.
	TTSText     string `json:"text,omitempty"`
	TTSVoice    string `json:"voice,omitempty"`
	TTSLanguage string `json:"language,omitempty"`

	// voicemessage and voicetts: the key that opts the callee out (0-9 * #,
	// "" none) and the tenant's recording played to confirm it (nil none).
	OptOutDigit       string `json:"opt_out_digit,omitempty"`
	OptOutRecordingID *int64 `json:"opt_out_recording_id,omitempty"`
	// voicemessage: what to do when an answering machine picks up.
	OnMachine MachinePolicy `json:"on_machine,omitempty"`

	CreatedBy int64 `json:"created_by"`

	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).

	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// ProgramTypes lists every program type, in the document's order of groups.
func ProgramTypes() []ProgramType {
	return []ProgramType{
		ProgramSendSMS, ProgramSendEmail, ProgramSendFax, ProgramVoiceMessage, ProgramVoiceTTS,
		ProgramReceiveSMS, ProgramReceiveEmail, ProgramReceiveFax, ProgramEmailToFax, ProgramFaxToEmail,
	}
}

// Valid reports whether t is a known program type.
func (t ProgramType) Valid() bool { return t.Reference() != "" }

// Reference names the field of a program of type t that points at what it
// uses: the message it sends or the account it receives for. Voicetts
// answers "text_id", which it may replace with inline text. An unknown type
// answers "".
func (t ProgramType) Reference() string {
	switch t {
	case ProgramSendSMS, ProgramVoiceTTS:
		return "text_id"
	case ProgramSendEmail:
		return "template_id"
	case ProgramSendFax:
		return "document_id"
	case ProgramVoiceMessage:
		return "recording_id"
	case ProgramReceiveSMS, ProgramReceiveEmail, ProgramReceiveFax, ProgramEmailToFax, ProgramFaxToEmail:
		return "account_id"
	}
	return ""
}

// References returns the program's pointers to other resources by field
// name, only those that are set.
func (p *Program) References() map[string]int64 {
	refs := map[string]int64{}
	for field, id := range map[string]*int64{
		"parent_id": p.ParentID, "account_id": p.AccountID, "document_id": p.DocumentID,
		"recording_id": p.RecordingID, "template_id": p.TemplateID, "text_id": p.TextID,
		"opt_out_recording_id": p.OptOutRecordingID,
	} {
		if id != nil {
			refs[field] = *id
		}
	}
	return refs
}

// Limits of a voicetts program.
const (
	MaxTTSText    = 4000
	maxProgramLen = 255
)

var (
	ttsVoicePattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	ttsLanguagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2}|-[0-9]{3})?$`)
)

// ValidateProgram checks a program before it is created. It canonicalises
// what it can (trimmed name, language case) and records every problem in v.
// That the references exist and are the caller's is the store's check,
// made in the transaction that writes.
func ValidateProgram(p *Program, v *Invalid) {
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case p.Name == "":
		v.Add("name", "required")
	case utf8.RuneCountInString(p.Name) > maxProgramLen:
		v.Add("name", "at most 255 characters")
	case !programPrintable(p.Name):
		v.Add("name", "printable characters only")
	}
	if !p.Type.Valid() {
		v.Add("type", "unknown program type")
		return
	}
	if p.ParentID != nil && *p.ParentID <= 0 {
		v.Add("parent_id", "must be a program id")
	}
	want := p.Type.Reference()
	for field, id := range p.References() {
		switch {
		case field == "parent_id", field == "opt_out_recording_id" && id > 0:
		case field == "opt_out_recording_id":
			v.Add(field, "must be a recording id")
		case field != want:
			v.Add(field, "not used by a "+string(p.Type)+" program")
		case id <= 0:
			v.Add(field, "must be a positive id")
		}
	}
	validateCallOptions(p, v)
	if p.Type != ProgramVoiceTTS {
		if p.TTSText != "" || p.TTSVoice != "" || p.TTSLanguage != "" {
			v.Add("text", "only a voicetts program speaks text")
		}
		if _, ok := p.References()[want]; !ok {
			v.Add(want, "required")
		}
		return
	}
	validateTTS(p, v)
}

// ValidOptOutDigit reports whether d is a key a callee can press to opt out.
func ValidOptOutDigit(d string) bool {
	return len(d) == 1 && strings.Contains("0123456789*#", d)
}

// Valid reports whether m is a known on_machine policy ("" included).
func (m MachinePolicy) Valid() bool {
	switch m {
	case MachineIgnore, MachinePlay, MachinePlayAfterBeep, MachineHangUp:
		return true
	}
	return false
}

// validateCallOptions checks the opt-out and answering-machine options,
// which only calls that play a message have.
func validateCallOptions(p *Program, v *Invalid) {
	call := p.Type == ProgramVoiceMessage || p.Type == ProgramVoiceTTS
	switch {
	case p.OptOutDigit != "" && !call:
		v.Add("opt_out_digit", "only a voicemessage or voicetts program offers an opt-out key")
	case p.OptOutDigit != "" && !ValidOptOutDigit(p.OptOutDigit):
		v.Add("opt_out_digit", "one of 0-9, * or #")
	}
	switch {
	case p.OptOutRecordingID != nil && !call:
		v.Add("opt_out_recording_id", "only a voicemessage or voicetts program offers an opt-out key")
	case p.OptOutRecordingID != nil && p.OptOutDigit == "" && !v.Has("opt_out_digit"):
		v.Add("opt_out_recording_id", "confirms an opt-out: set opt_out_digit too")
	}
	switch {
	case p.OnMachine == MachineIgnore:
	case p.Type != ProgramVoiceMessage:
		v.Add("on_machine", "only a voicemessage program detects answering machines")
	case !p.OnMachine.Valid():
		v.Add("on_machine", "one of play_after_beep, hang_up or play")
	}
}

func validateTTS(p *Program, v *Invalid) {
	switch {
	case p.TTSText == "" && p.TextID == nil:
		v.Add("text", "text or text_id is required")
	case p.TTSText != "" && p.TextID != nil:
		v.Add("text", "give text or text_id, not both")
	case p.TextID != nil:
	case strings.TrimSpace(p.TTSText) == "":
		v.Add("text", "must not be blank")
	case !utf8.ValidString(p.TTSText):
		v.Add("text", "must be UTF-8")
	case utf8.RuneCountInString(p.TTSText) > MaxTTSText:
		v.Add("text", "at most 4000 characters")
	case !programPrintable(p.TTSText):
		// The text travels to FreeSWITCH in a command line: a newline or
		// another control character could end the command early.
		v.Add("text", "printable characters only (no newlines or control characters)")
	}
	if p.TTSVoice != "" && !ttsVoicePattern.MatchString(p.TTSVoice) {
		v.Add("voice", "1-64 letters, digits, _ or -")
	}
	if p.TTSLanguage != "" {
		p.TTSLanguage = canonicalLanguage(p.TTSLanguage)
		if !ttsLanguagePattern.MatchString(p.TTSLanguage) {
			v.Add("language", "a language tag such as en or en-US")
		}
	}
}

// canonicalLanguage writes a tag as en-US: language in lower case, region
// in upper case. Anything else is left for the pattern to reject.
func canonicalLanguage(tag string) string {
	lang, region, ok := strings.Cut(strings.TrimSpace(tag), "-")
	if !ok {
		return strings.ToLower(lang)
	}
	return strings.ToLower(lang) + "-" + strings.ToUpper(region)
}

// programPrintable reports whether s is valid UTF-8 made of printable
// characters and plain spaces only.
func programPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
