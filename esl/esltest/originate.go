package esltest

import (
	"strconv"
	"strings"
	"time"
)

// originateSyntax is the usage line mod_commands prints for a bad originate.
const originateSyntax = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]"

// defaultOriginateTimeout is FreeSWITCH's originate timeout when neither
// originate_timeout nor the timeout argument is given.
const defaultOriginateTimeout = 60 * time.Second

// Var is one channel variable set by an originate.
type Var struct {
	Name  string
	Value string
}

// Originate is an originate command as FreeSWITCH understands it.
type Originate struct {
	// Command is "bgapi" or "api"; JobUUID is the bgapi job (client-chosen
	// or generated), empty for api.
	Command string
	JobUUID string
	// Arg is everything after "originate ", as sent (Job-Command-Arg).
	Arg string
	// DialString is the first argument after FreeSWITCH's quote and
	// escape processing: {vars}[vars]endpoint/...
	DialString string
	// Vars are the channel variables from <...>, {...} and [...] blocks in
	// the order FreeSWITCH keeps them (a repeated name replaces the earlier
	// one and moves to the end).
	Vars []Var
	// Dropped are the pieces of a variable block that FreeSWITCH silently
	// ignores because they contain no '=': typically what is left of a
	// value whose comma was not escaped.
	Dropped []string
	// Endpoint is the first leg without its variables, e.g.
	// "sofia/gateway/carrier/15551230001".
	Endpoint string
	// Destination is the number dialled: the last segment of Endpoint
	// without "sip:", "@host" or ";params".
	Destination string
	// UUID is origination_uuid, or the one the fake generated.
	UUID string
	// Timeout is the originate timeout: the 7th argument, else
	// originate_timeout, else 60 s.
	Timeout time.Duration
	// Target is the second argument: "&app(args)" or an extension.
	Target string
	// Application and AppArgs are set for "&app(args)" targets. AppArgs
	// stops at the first ')' because that is what FreeSWITCH executes
	// (the fixtures show "&playback(tone_stream://%(1000,0,440))" running
	// playback with "tone_stream://%(1000,0,440").
	Application string
	AppArgs     string
	// Dialplan and Context default to XML and default.
	Dialplan string
	Context  string
	// CallerIDName and CallerIDNumber come from the 5th and 6th arguments
	// or from origination_caller_id_name / _number.
	CallerIDName   string
	CallerIDNumber string
}

// Var returns the value of the channel variable name.
func (o Originate) Var(name string) (string, bool) {
	for _, v := range o.Vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// ParseOriginate parses the argument of an originate api command (the text
// after "originate ") with FreeSWITCH's rules:
//
//   - the arguments are split on spaces; single quotes group words and are
//     removed, and a backslash escapes the next character (\' keeps a quote);
//   - a {...} block (several are allowed, also <...> and a per-leg [...])
//     holds variables separated by commas, or by the character X after a
//     leading ^^X; inside a block single quotes protect separators, but the
//     quotes of the command line are already gone by then, so a comma in a
//     value must be written \, (or use ^^X), as with the real switch;
//   - each variable is split at its first '='.
//
// The error, if any, is the -USAGE or -ERR line FreeSWITCH would answer.
func ParseOriginate(arg string) (Originate, error) {
	o := Originate{Arg: arg, Dialplan: "XML", Context: "default", Timeout: defaultOriginateTimeout}
	argv := separateBlank(arg, 10)
	if len(argv) < 2 || len(argv) > 7 {
		return o, Error("-USAGE: " + originateSyntax)
	}
	for i, a := range argv {
		if strings.EqualFold(a, "undef") {
			argv[i] = ""
		}
	}
	o.DialString, o.Target = argv[0], argv[1]
	if len(argv) > 2 && argv[2] != "" {
		o.Dialplan = argv[2]
	}
	if len(argv) > 3 && argv[3] != "" {
		o.Context = argv[3]
	}
	if len(argv) > 4 {
		o.CallerIDName = argv[4]
	}
	if len(argv) > 5 {
		o.CallerIDNumber = argv[5]
	}
	if err := o.parseDialString(); err != nil {
		return o, err
	}
	if v, ok := o.Var("origination_caller_id_name"); ok && o.CallerIDName == "" {
		o.CallerIDName = v
	}
	if v, ok := o.Var("origination_caller_id_number"); ok && o.CallerIDNumber == "" {
		o.CallerIDNumber = v
	}
	if v, ok := o.Var("originate_timeout"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			o.Timeout = time.Duration(n) * time.Second
		}
	}
	if len(argv) > 6 {
		if n, err := strconv.Atoi(argv[6]); err == nil && n > 0 {
			o.Timeout = time.Duration(n) * time.Second
		}
	}
	o.UUID, _ = o.Var("origination_uuid")
	if app, ok := strings.CutPrefix(o.Target, "&"); ok && app != "" {
		o.Application, o.AppArgs = splitApp(app)
	}
	return o, nil
}

// parseDialString extracts the variable blocks, the first leg and its
// destination number from o.DialString.
func (o *Originate) parseDialString() error {
	data := strings.TrimLeft(o.DialString, " ")
	for len(data) > 0 && (data[0] == '<' || data[0] == '{') {
		closer := byte('}')
		if data[0] == '<' {
			closer = '>'
		}
		end := findEndParen(data, data[0], closer)
		if end < 0 {
			return Error("-ERR " + CauseDestinationOutOfOrder)
		}
		o.addVars(data[1:end])
		data = strings.TrimLeft(data[end+1:], " ")
	}
	leg := firstLeg(data)
	if strings.HasPrefix(leg, "[") {
		end := findEndParen(leg, '[', ']')
		if end < 0 {
			return Error("-ERR " + CauseDestinationOutOfOrder)
		}
		o.addVars(leg[1:end])
		leg = leg[end+1:]
	}
	if !strings.Contains(leg, "/") {
		// switch_core_session_outgoing_channel finds no endpoint module.
		return Error("-ERR CHAN_NOT_IMPLEMENTED")
	}
	o.Endpoint = leg
	o.Destination = destination(leg)
	return nil
}

// addVars parses the inside of one variable block.
func (o *Originate) addVars(block string) {
	delim := byte(',')
	if len(block) >= 3 && block[0] == '^' && block[1] == '^' {
		delim, block = block[2], block[3:]
	}
	for _, part := range separateChar(block, delim, 1024) {
		kv := separateChar(part, '=', 2)
		if len(kv) != 2 || kv[0] == "" {
			if part != "" {
				o.Dropped = append(o.Dropped, part)
			}
			continue
		}
		o.setVar(kv[0], kv[1])
	}
}

func (o *Originate) setVar(name, value string) {
	for i, v := range o.Vars {
		if v.Name == name {
			o.Vars = append(o.Vars[:i], o.Vars[i+1:]...)
			break
		}
	}
	o.Vars = append(o.Vars, Var{name, value})
}

// firstLeg returns the dial string up to the first top-level ',' (ring
// simultaneously), '|' (ring in sequence) or ":_:" (enterprise): the fake
// only ever dials one leg.
func firstLeg(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{', '<':
			depth++
		case ']', '}', '>':
			depth--
		case ',', '|':
			if depth == 0 {
				return s[:i]
			}
		case ':':
			if depth == 0 && strings.HasPrefix(s[i:], ":_:") {
				return s[:i]
			}
		}
	}
	return s
}

// destination returns the number in an endpoint string such as
// "sofia/gateway/gw/15551230001" or "sofia/external/sip:1555@host;x=y".
func destination(endpoint string) string {
	d := endpoint[strings.LastIndexByte(endpoint, '/')+1:]
	d = strings.TrimPrefix(strings.TrimPrefix(d, "sips:"), "sip:")
	if i := strings.IndexAny(d, "@;"); i >= 0 {
		d = d[:i]
	}
	return d
}

// splitApp splits "app(args)" or "app args" as mod_commands does: the
// arguments end at the first ')'.
func splitApp(s string) (app, args string) {
	if i := strings.IndexByte(s, '('); i >= 0 {
		app, args = s[:i], s[i+1:]
		if j := strings.IndexByte(args, ')'); j >= 0 {
			args = args[:j]
		}
		return app, args
	}
	app, args, _ = strings.Cut(s, " ")
	return app, args
}

// findEndParen is switch_find_end_paren: the index of the bracket closing
// the one at s[0], counting nesting, or -1.
func findEndParen(s string, open, closer byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == open && open != closer:
			depth++
		case s[i] == closer:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// separateBlank is switch_separate_string with a space delimiter: quotes
// group (any quote toggles), a backslash protects the next byte, runs of
// spaces separate; at most max tokens, the last one taking the rest. Each
// token is then cleaned (quotes removed, escapes resolved).
func separateBlank(s string, max int) []string {
	const (
		start = iota
		skipInitial
		findDelim
		skipEnding
	)
	var (
		tokens   []string
		begin    int
		state    = start
		inQuotes bool
		i        int
	)
	for i < len(s) && len(tokens) < max {
		switch state {
		case start:
			begin = i
			tokens = append(tokens, "")
			state = skipInitial
		case skipInitial:
			if s[i] == ' ' {
				i++
			} else {
				state = findDelim
			}
		case findDelim:
			switch {
			case s[i] == '\\':
				i++
			case s[i] == '\'':
				inQuotes = !inQuotes
			case s[i] == ' ' && !inQuotes:
				tokens[len(tokens)-1] = s[begin:i]
				state = skipEnding
			}
			i++
		case skipEnding:
			if s[i] == ' ' {
				i++
			} else {
				state = start
			}
		}
	}
	if state == findDelim || state == skipInitial {
		tokens[len(tokens)-1] = s[begin:]
	}
	for i, t := range tokens {
		tokens[i] = cleanupSeparated(t, 0)
	}
	return tokens
}

// separateChar is switch_separate_string with any other delimiter: a quote
// groups only when a closing one follows, a backslash protects the next
// byte; at most max tokens, the last one taking the rest. Tokens are
// cleaned with the delimiter, so "\," becomes ",".
func separateChar(s string, delim byte, max int) []string {
	var (
		tokens   []string
		begin    int
		inToken  bool
		inQuotes bool
		i        int
	)
	for i < len(s) && (inToken || len(tokens) < max) {
		if !inToken {
			begin, inToken = i, true
			tokens = append(tokens, "")
			continue
		}
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '\'' && (inQuotes || strings.IndexByte(s[i+1:], '\'') >= 0):
			inQuotes = !inQuotes
		case s[i] == delim && !inQuotes && len(tokens) < max:
			tokens[len(tokens)-1] = s[begin:i]
			inToken = false
		}
		i++
	}
	if inToken {
		tokens[len(tokens)-1] = s[begin:min(i, len(s))]
	}
	for i, t := range tokens {
		tokens[i] = cleanupSeparated(t, delim)
	}
	return tokens
}

// cleanupSeparated is cleanup_separated_string: leading spaces dropped,
// paired single quotes removed (their content kept verbatim, spaces
// included), backslash escapes resolved, trailing spaces outside quotes
// dropped.
func cleanupSeparated(s string, delim byte) string {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	out := make([]byte, 0, len(s)-i)
	end := -1
	inQuotes := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			if u := unescapeChar(e); e == '\'' || e == '"' || (delim != 0 && e == delim) || e == '\\' || u != e {
				out = append(out, u)
				end = len(out)
				i++
				continue
			}
		}
		if c == '\'' && (inQuotes || strings.IndexByte(s[i+1:], '\'') >= 0) {
			inQuotes = !inQuotes
			if inQuotes {
				end = len(out)
			}
			continue
		}
		out = append(out, c)
		if c != ' ' || inQuotes {
			end = len(out)
		}
	}
	if end >= 0 {
		out = out[:end]
	}
	return string(out)
}

func unescapeChar(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}
