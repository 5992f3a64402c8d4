package esl

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Channel variables the gateway sets beside FreeSWITCH's own.
const (
	// varTTS carries the text of a voicetts program: the originate line is
	// split on spaces, so the text cannot be an application argument.
	varTTS = "dialerd_tts"
	// varSpool tags the channel with its spool, for operators reading
	// "show channels".
	varSpool = "dialerd_spool_id"
)

// Limits of what the builder accepts.
const (
	defaultRingTimeout = 30 * time.Second
)

var (
	// phonePattern is dialer.NormalizePhone's output: E.164 only.
	phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	// callerIDNumberPattern is dialer.NormalizeCallerIDNumber's output.
	callerIDNumberPattern = regexp.MustCompile(`^\+?[0-9]{1,20}$`)
	// uuidPattern is a UUID as FreeSWITCH writes it.
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// gatewayNamePattern is the provider name pattern of dialer.ValidateProvider.
	gatewayNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	prefixPattern      = regexp.MustCompile(`^[0-9]{0,16}$`)
	// mediaPathPattern is an absolute file path of the store's media
	// directory: nothing that the originate line or playback could read
	// as a separator, a quote, a variable or a second file.
	mediaPathPattern = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)
	// mediaURLPattern is the URL dialerd serves a file at to a remote
	// node: no comma, quote, parenthesis, space, brace, $ or backslash.
	mediaURLPattern = regexp.MustCompile(`^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+=&?-]*)?$`)
	// ttsNamePattern is a TTS engine or voice name (flite, kal, ...).
	ttsNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// maxMediaRef bounds a media path or URL.
const maxMediaRef = 2048

// chanVar is one channel variable of an originate.
type chanVar struct {
	Name, Value string
}

// originate is a validated originate command: what it means (the
// variables, the endpoint, the application) and its text on the wire.
type originate struct {
	Vars        []chanVar // in the order they are written
	Endpoint    string    // e.g. sofia/gateway/carrier/4930123456
	Number      string    // prefix and digits, as dialled
	Application string    // playback, speak or txfax
	AppArgs     string
	// Arg is what follows "originate " on the wire.
	Arg string
}

// mediaPlace says where a node reads media: from this host's disk (a
// node on the same host) or over HTTP from dialerd.
type mediaPlace struct {
	local     bool
	ttsEngine string
	ttsVoice  string
}

// buildOriginate turns an attempt into an originate command built only
// from validated parts. Any value that could escape its place (a variable
// block, the endpoint, the application argument) is refused, and values
// that may carry spaces, commas or quotes (the caller id name, the TTS
// text) are escaped for each of the three splits FreeSWITCH applies: the
// command line on blanks, the variable block on commas, each variable on
// its first '='.
func buildOriginate(a dialer.Attempt, place mediaPlace) (originate, error) {
	var o originate
	var v dialer.Invalid
	if !uuidPattern.MatchString(a.CallUUID) {
		v.Add("call_uuid", "not a UUID")
	}
	if !phonePattern.MatchString(a.Phone) {
		v.Add("phone", "not an E.164 number (+ and 8 to 15 digits)")
	}
	if a.CallerIDNumber != "" && !callerIDNumberPattern.MatchString(a.CallerIDNumber) {
		v.Add("caller_id_number", "digits with an optional leading + only")
	}
	name := strings.TrimSpace(a.CallerIDName)
	if err := dialer.ValidateCallerIDName(name); err != nil {
		v.Add("caller_id_name", "invalid: "+err.Error())
	} else if strings.ContainsAny(name, "$<>[]^") {
		// ${...} would be expanded by FreeSWITCH; the others are refused
		// for good measure, as a SIP display name has no use for them.
		v.Add("caller_id_name", "must not contain $ < > [ ] ^")
	}
	if !prefixPattern.MatchString(a.Provider.Prefix) {
		v.Add("prefix", "digits only, at most 16")
	}
	number := a.Provider.Prefix + strings.TrimPrefix(a.Phone, "+")
	endpoint, err := dialEndpoint(a.Provider, number)
	if err != nil {
		v.Add("dialstring", err.Error())
	}
	app, appArgs, tts, err := application(a, place)
	if err != nil {
		v.Add("media", err.Error())
	}
	if err := v.Err(); err != nil {
		return o, err
	}

	ring := a.RingTimeout
	if ring <= 0 {
		ring = defaultRingTimeout
	}
	o.Vars = append(o.Vars,
		chanVar{"origination_uuid", a.CallUUID},
		chanVar{"originate_timeout", strconv.Itoa(ceilSeconds(ring))},
	)
	if a.CallerIDNumber != "" {
		o.Vars = append(o.Vars, chanVar{"origination_caller_id_number", a.CallerIDNumber})
	}
	if name != "" {
		o.Vars = append(o.Vars, chanVar{"origination_caller_id_name", name})
	}
	if a.MaxDuration > 0 {
		// FreeSWITCH hangs the call up itself, so no call outlives its
		// limit even if dialerd is gone; the gateway's uuid_kill backs it up.
		o.Vars = append(o.Vars, chanVar{"execute_on_answer",
			"sched_hangup +" + strconv.Itoa(ceilSeconds(a.MaxDuration)) + " ALLOTTED_TIMEOUT"})
	}
	if a.SpoolID > 0 {
		o.Vars = append(o.Vars, chanVar{varSpool, strconv.FormatInt(a.SpoolID, 10)})
	}
	if tts != "" {
		o.Vars = append(o.Vars, chanVar{varTTS, tts})
	}
	if a.Media.OnMachine != dialer.MachineIgnore {
		// mod_avmd listens from the answer (amd.go); play_after_beep
		// parks the call and the gateway plays the message on the beep.
		o.Vars = append(o.Vars, chanVar{varAVMDStart, "avmd_start"})
		if a.Media.OnMachine == dialer.MachinePlayAfterBeep {
			app, appArgs = "park", ""
		}
	}
	if a.Program == dialer.ProgramVoiceMessage || a.Program == dialer.ProgramVoiceTTS {
		// playback and speak end at a press of the playback terminators
		// (* when unset), and playback then says FILE PLAYED: a callee's
		// * would count a message cut short as delivered. The message
		// runs to its end (or until the gateway acts on an opt-out key).
		o.Vars = append(o.Vars, chanVar{"playback_terminators", "none"})
	}
	// The call record FreeSWITCH keeps for recovery (record.go). Without
	// origination_nested_vars, originate drops any value holding "${"
	// ("Invalid data ... contains a variable"); no other value here can
	// hold one (the builder refuses '$' everywhere else).
	o.Vars = append(o.Vars,
		chanVar{"origination_nested_vars", "true"},
		chanVar{"api_reporting_hook", reportingHook(a.CallUUID)},
	)
	o.Endpoint, o.Number, o.Application, o.AppArgs = endpoint, number, app, appArgs

	var b strings.Builder
	b.WriteByte('{')
	for i, cv := range o.Vars {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(cv.Name)
		b.WriteByte('=')
		b.WriteString(escapeVarValue(cv.Value))
	}
	b.WriteByte('}')
	b.WriteString(endpoint)
	b.WriteString(" &")
	b.WriteString(app)
	b.WriteByte('(')
	b.WriteString(appArgs)
	b.WriteByte(')')
	o.Arg = b.String()
	return o, nil
}

// ceilSeconds rounds d up to whole seconds, at least 1, at most a day.
func ceilSeconds(d time.Duration) int {
	s := math.Ceil(d.Seconds())
	return int(min(max(s, 1), 86400))
}

// dialEndpoint is the first leg: the provider's sofia gateway, or its
// dial string template with {number} replaced.
func dialEndpoint(r dialer.Route, number string) (string, error) {
	if r.DialString == "" {
		if !gatewayNamePattern.MatchString(r.Name) {
			return "", fmt.Errorf("provider name %q cannot name a sofia gateway", r.Name)
		}
		return "sofia/gateway/" + r.Name + "/" + number, nil
	}
	var v dialer.Invalid
	dialer.ValidateDialString(r.DialString, &v)
	if err := v.Err(); err != nil {
		return "", fmt.Errorf("dial string template refused: %w", err)
	}
	if !strings.Contains(strings.Replace(r.DialString, dialer.DialStringNumber, "", 1), "/") {
		return "", fmt.Errorf("dial string template %q names no endpoint (e.g. sofia/gateway/NAME/{number})", r.DialString)
	}
	return strings.Replace(r.DialString, dialer.DialStringNumber, number, 1), nil
}

// application picks what the answered call runs, and the TTS text when the
// program speaks.
func application(a dialer.Attempt, place mediaPlace) (app, args, tts string, err error) {
	media := func(path, url string) (string, error) {
		ref := url
		if place.local {
			ref = path
		}
		return ref, mediaRefAllowed(ref, place.local)
	}
	switch a.Program {
	case dialer.ProgramVoiceMessage:
		f, err := media(a.Media.RecordingPath, a.Media.RecordingURL)
		if err == nil && !hasExt(f, ".wav") {
			// FreeSWITCH never opens an extension-less path as given: it
			// tries <path>.PCMU and <path>.wav (playback_missing.txt), and
			// a dot in a directory becomes a wrong extension.
			err = fmt.Errorf("a recording must be a .wav file, got %q", f)
		}
		return "playback", f, "", err
	case dialer.ProgramSendFax:
		if !place.local {
			// txfax opens the TIFF with libtiff: it takes no URL.
			return "", "", "", fmt.Errorf("sendfax needs a node on this host: txfax reads a local TIFF file")
		}
		f, err := media(a.Media.DocumentPath, "")
		if err == nil && !hasExt(f, ".tif") && !hasExt(f, ".tiff") {
			// txfax reads TIFF-F only (a PDF fails with result 41).
			err = fmt.Errorf("a fax document must be a .tif file, got %q", f)
		}
		return "txfax", f, "", err
	case dialer.ProgramVoiceTTS:
		// The one text rule of every gateway that speaks (dialer.CheckTTSText).
		text := dialer.NormalizeTTS(a.Media.TTSText)
		voice := cmpOr(a.Media.TTSVoice, place.ttsVoice)
		if err := dialer.CheckTTSText(text); err != nil {
			return "", "", "", err
		}
		if !ttsNamePattern.MatchString(place.ttsEngine) || !ttsNamePattern.MatchString(voice) {
			return "", "", "", fmt.Errorf("TTS engine %q or voice %q is not a plain name", place.ttsEngine, voice)
		}
		return "speak", place.ttsEngine + "|" + voice + "|${" + varTTS + "}", text, nil
	}
	return "", "", "", fmt.Errorf("program type %q is not delivered through FreeSWITCH", a.Program)
}

// mediaRefAllowed checks a media file as a node reads it: an absolute path
// of a safe alphabet on this host, an http(s) URL without separators
// otherwise.
func mediaRefAllowed(ref string, local bool) error {
	if local {
		if len(ref) > maxMediaRef || !mediaPathPattern.MatchString(ref) || strings.Contains(ref, "/../") || strings.HasSuffix(ref, "/..") {
			return fmt.Errorf("a local node needs the file's absolute path (letters, digits, _ . / -), got %q", ref)
		}
		return nil
	}
	if len(ref) > maxMediaRef || !mediaURLPattern.MatchString(ref) {
		return fmt.Errorf("a remote node needs the file's http(s) URL (no spaces, quotes, commas or parentheses), got %q", ref)
	}
	return nil
}

// hasExt reports whether the last element of a path or URL path (before
// any query) has extension ext, so that the last '.' FreeSWITCH finds in the
// whole string is that extension's.
func hasExt(ref, ext string) bool {
	if i := strings.IndexAny(ref, "?#"); i >= 0 && strings.Contains(ref, "://") {
		ref = ref[:i]
	}
	base := ref[strings.LastIndexByte(ref, '/')+1:]
	return len(base) > len(ext) && strings.HasSuffix(base, ext)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// normalizeTTS is dialer.NormalizeTTS, the one normalisation of spoken text.
func normalizeTTS(s string) string { return dialer.NormalizeTTS(s) }

// escapeVarValue writes a variable value so that FreeSWITCH's three
// splits give it back: each split (switch_separate_string) removes one
// level of backslash escapes and unpaired quoting, so the value is escaped
// for the '=' split, then for the ',' split, then for the blank split, in
// that order (innermost first). Values the builder lets through never hold
// control characters, leading or trailing spaces, and braces only in the
// balanced ${...} of the reporting hook.
func escapeVarValue(v string) string {
	return escapeLevel(escapeLevel(escapeLevel(v, '='), ','), ' ')
}

// escapeLevel escapes s for one switch_separate_string pass splitting on
// delim: backslash and quote are escaped, and so is the delimiter (a space
// as \s, which the pass turns back into a space).
func escapeLevel(s string, delim byte) string {
	if !strings.ContainsAny(s, `\'`+string(delim)) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == delim && delim == ' ':
			b.WriteString(`\s`)
		case c == delim:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
