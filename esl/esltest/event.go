package esltest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Event is a FreeSWITCH event: ordered headers with decoded values, and an
// optional body (BACKGROUND_JOB carries the api result there). A parsed
// event keeps the Content-Length header it arrived with.
type Event struct {
	Headers []Header
	Body    []byte
}

// Get returns the first header named name (case-insensitive) or "".
func (e Event) Get(name string) string {
	v, _ := lookup(e.Headers, name)
	return v
}

// Has reports whether a header named name is present.
func (e Event) Has(name string) bool {
	_, ok := lookup(e.Headers, name)
	return ok
}

// Name returns the Event-Name header.
func (e Event) Name() string { return e.Get("Event-Name") }

// Sequence returns Event-Sequence, which FreeSWITCH increments for every
// event it fires; clients that receive events out of order (eslgo runs each
// handler in its own goroutine) sort on it.
func (e Event) Sequence() uint64 {
	n, _ := strconv.ParseUint(e.Get("Event-Sequence"), 10, 64)
	return n
}

// set replaces the value of the first header named name, or appends one.
func (e *Event) set(name, value string) {
	for i := range e.Headers {
		if strings.EqualFold(e.Headers[i].Name, name) {
			e.Headers[i].Value = value
			return
		}
	}
	e.Headers = append(e.Headers, Header{name, value})
}

// ParseEventPlain parses the body of a text/event-plain frame: header lines
// with URL-encoded values, a blank line, then exactly Content-Length bytes
// of body if the event has one. Anything else after the headers is an error,
// which is how a Content-Length that does not match is caught.
func ParseEventPlain(data []byte) (Event, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	// The event is already bounded by the frame it came in, so its header
	// lines (SDP, long variables) are only limited by its own size.
	raw, err := readHeaderBlock(r, len(data), len(data))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Event{}, fmt.Errorf("event headers: %w", err)
	}
	ev := Event{Headers: make([]Header, len(raw))}
	for i, h := range raw {
		ev.Headers[i] = Header{Name: h.Name, Value: urlDecode(h.Value)}
	}
	n, ok, err := contentLength(raw)
	if err != nil {
		return Event{}, fmt.Errorf("event body: %w", err)
	}
	if ok {
		if ev.Body, err = readBody(r, n); err != nil {
			return Event{}, fmt.Errorf("event body: %w", err)
		}
	}
	if r.Buffered() > 0 {
		return Event{}, ErrTrailingData
	}
	return ev, nil
}

// ParseEventJSON parses the body of a text/event-json frame. Header order
// is kept (encoding/json maps would lose it); "_body" becomes Body; array
// values, which FreeSWITCH uses for multi-valued headers, become repeated
// headers.
func ParseEventJSON(data []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Event{}, fmt.Errorf("event json: expected an object: %v", err)
	}
	var ev Event
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Event{}, fmt.Errorf("event json: %w", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Event{}, fmt.Errorf("event json %q: %w", name, err)
		}
		values, err := jsonStrings(raw)
		if err != nil {
			return Event{}, fmt.Errorf("event json %q: %w", name, err)
		}
		if name == "_body" {
			ev.Body = []byte(strings.Join(values, ""))
			continue
		}
		for _, v := range values {
			ev.Headers = append(ev.Headers, Header{name, v})
		}
	}
	if _, err := dec.Token(); err != nil {
		return Event{}, fmt.Errorf("event json: %w", err)
	}
	if dec.More() {
		return Event{}, ErrTrailingData
	}
	return ev, nil
}

func jsonStrings(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, err
	}
	return many, nil
}

// encodePlain serialises an event the way switch_event_serialize does:
// values URL-encoded, then "Content-Length: N" and the body, or a lone
// blank line when there is no body.
func encodePlain(e Event) []byte {
	var b bytes.Buffer
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, "Content-Length") {
			continue // derived from Body below
		}
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.Value))
		b.WriteByte('\n')
	}
	if len(e.Body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\n\n", len(e.Body))
		b.Write(e.Body)
	} else {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// encodeJSON serialises an event like switch_event_serialize_json: one flat
// object of raw (not URL-encoded) strings in header order, duplicates kept,
// and Content-Length plus "_body" when there is a body.
func encodeJSON(e Event) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name, value string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, name)
		b.WriteByte(':')
		writeJSONString(&b, value)
	}
	for _, h := range e.Headers {
		if !strings.EqualFold(h.Name, "Content-Length") {
			field(h.Name, h.Value)
		}
	}
	if len(e.Body) > 0 {
		field("Content-Length", strconv.Itoa(len(e.Body)))
		field("_body", string(e.Body))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false) // cJSON leaves <, > and & alone
	_ = enc.Encode(s)        // cannot fail for a string
	b.Truncate(b.Len() - 1)  // Encode appends a newline
}

// encodeXML serialises an event in the layout of switch_event_xmlize:
// URL-encoded values under <headers>, the body in <body>.
func encodeXML(e Event) []byte {
	var b bytes.Buffer
	b.WriteString("<event>\n  <headers>\n")
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		fmt.Fprintf(&b, "    <%s>%s</%s>\n", h.Name, xmlEscape(urlEncode(h.Value)), h.Name)
	}
	if len(e.Body) > 0 {
		fmt.Fprintf(&b, "    <Content-Length>%d</Content-Length>\n", len(e.Body))
	}
	b.WriteString("  </headers>\n")
	if len(e.Body) > 0 {
		fmt.Fprintf(&b, "  <body>%s</body>\n", xmlEscape(string(e.Body)))
	}
	b.WriteString("</event>")
	return b.Bytes()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// urlUnsafe is SWITCH_URL_UNSAFE: the bytes switch_url_encode escapes in
// addition to control and non-ASCII bytes. Commas, slashes and parentheses
// stay as they are, as the fixtures show.
const urlUnsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""

const hexDigits = "0123456789ABCDEF"

func urlEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte) bool {
	return c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0
}

// urlDecode undoes urlEncode. Like switch_url_decode it is lenient: a '%'
// not followed by two hex digits is kept, and '+' is not a space.
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
