package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The Event Socket's framing, as mod_event_socket writes it: header lines
// "Name: value" ending in LF, a blank line, and, when a Content-Length
// header is present, exactly that many bytes of body. The Content-Type
// says what the frame is:
//
//	auth/request            the greeting; answer with "auth <password>"
//	command/reply           the answer to a command, in Reply-Text
//	api/response            the answer to "api", in the body
//	text/event-plain        an event; the body is itself headers (values
//	                        URL-encoded), a blank line, and an optional
//	                        Content-Length body (BACKGROUND_JOB's result)
//	text/disconnect-notice  FreeSWITCH is about to close the socket
//
// Replies (command/reply and api/response) come in the order of the
// commands; events come between them at any point.

// Content types of the frames the client reads.
const (
	ctAuthRequest = "auth/request"
	ctCommand     = "command/reply"
	ctAPI         = "api/response"
	ctEventPlain  = "text/event-plain"
	ctDisconnect  = "text/disconnect-notice"
)

// Limits that keep a broken or hostile peer from making the reader
// allocate without bound. Real frames are far below them: header lines are
// short (long values travel in event bodies, where only the frame's own
// size limits a line) and the largest events are tens of kilobytes.
const (
	maxHeaderLine = 64 << 10
	maxHeaders    = 512
	maxBody       = 16 << 20
)

// Framing errors. Any of them ends the connection: the stream can no
// longer be cut into frames with confidence.
var (
	errLineTooLong   = errors.New("esl: header line too long")
	errTooMany       = errors.New("esl: too many header lines")
	errBadHeader     = errors.New("esl: malformed header line")
	errBadLength     = errors.New("esl: bad Content-Length")
	errBodyTooLarge  = errors.New("esl: Content-Length over limit")
	errTrailingBytes = errors.New("esl: event data after its Content-Length")
)

// header is one header line. Frames keep headers in order (FreeSWITCH
// repeats some, such as Hangup-Cause), and lookups take the first.
type header struct{ name, value string }

// frame is one message: its headers and body. For an event the values are
// already URL-decoded.
type frame struct {
	headers []header
	body    []byte
}

// get returns the value of the first header called name, compared without
// case as FreeSWITCH does, or "".
func (f *frame) get(name string) string {
	for _, h := range f.headers {
		if len(h.name) == len(name) && strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// readFrame reads the next frame. Blank lines before a frame are skipped,
// as FreeSWITCH's own reader does; a CR before an LF is tolerated. EOF at
// a frame boundary is io.EOF, anywhere else io.ErrUnexpectedEOF.
func readFrame(r *bufio.Reader) (frame, error) {
	var f frame
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(f.headers) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, err
		}
		if line == "" {
			if len(f.headers) == 0 {
				continue
			}
			break
		}
		if len(f.headers) == maxHeaders {
			return frame{}, errTooMany
		}
		h, ok := splitHeader(line)
		if !ok {
			return frame{}, errBadHeader
		}
		f.headers = append(f.headers, h)
	}
	n, ok, err := contentLength(f.headers)
	if err != nil || !ok {
		return f, err
	}
	if f.body, err = readBody(r, n); err != nil {
		return frame{}, err
	}
	return f, nil
}

// readLine returns the next line without its line end. A line longer than
// maxHeaderLine is an error rather than an allocation.
func readLine(r *bufio.Reader) (string, error) {
	chunk, err := r.ReadSlice('\n')
	if err == nil {
		return string(trimEOL(chunk)), nil
	}
	var long []byte
	for errors.Is(err, bufio.ErrBufferFull) {
		long = append(long, chunk...)
		if len(long) > maxHeaderLine+2 {
			return "", errLineTooLong
		}
		chunk, err = r.ReadSlice('\n')
	}
	long = append(long, chunk...)
	switch {
	case err == nil:
		line := trimEOL(long)
		if len(line) > maxHeaderLine {
			return "", errLineTooLong
		}
		return string(line), nil
	case errors.Is(err, io.EOF) && len(long) > 0:
		return "", io.ErrUnexpectedEOF
	default:
		return "", err
	}
}

// trimEOL drops the LF and any CRs before it.
func trimEOL(b []byte) []byte {
	return bytes.TrimRight(b[:len(b)-1], "\r")
}

// splitHeader cuts "Name: value". FreeSWITCH writes one space after the
// colon; any number is accepted.
func splitHeader(line string) (header, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return header{}, false
	}
	return header{name: name, value: strings.TrimLeft(value, " ")}, true
}

// contentLength reads the Content-Length header. Repeated ones must agree:
// otherwise two readers could cut the stream differently.
func contentLength(hs []header) (n int, ok bool, err error) {
	for _, h := range hs {
		if !strings.EqualFold(h.name, "Content-Length") {
			continue
		}
		v, err := parseLength(h.value)
		if err != nil {
			return 0, false, err
		}
		if ok && v != n {
			return 0, false, errBadLength
		}
		n, ok = v, true
	}
	return n, ok, nil
}

func parseLength(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q", errBadLength, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errBadLength, s)
	}
	if n > maxBody {
		return 0, fmt.Errorf("%w: %d", errBodyTooLarge, n)
	}
	return n, nil
}

// readBody reads exactly n bytes. Small bodies (every real one) are read
// into one allocation; a large announced length grows with the data that
// actually arrives, so a lie costs nothing.
func readBody(r io.Reader, n int) ([]byte, error) {
	const direct = 256 << 10
	if n <= direct {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpected(err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, unexpected(err)
	}
	return buf.Bytes(), nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseEventPlain parses the body of a text/event-plain frame: header
// lines with URL-encoded values, a blank line, then Content-Length bytes
// of body if the event has that header. The values are decoded; Body is
// left as sent. Bytes after the announced body mean a Content-Length that
// lies, which is an error.
func parseEventPlain(data []byte) (frame, error) {
	s := string(data) // one copy; names and values are slices of it
	ev := frame{headers: make([]header, 0, 80)}
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return frame{}, fmt.Errorf("event headers: %w", io.ErrUnexpectedEOF)
		}
		s = rest
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		h, good := splitHeader(line)
		if !good {
			return frame{}, fmt.Errorf("event: %w", errBadHeader)
		}
		h.value = urlDecode(h.value)
		ev.headers = append(ev.headers, h)
	}
	if len(ev.headers) == 0 {
		return frame{}, fmt.Errorf("event: %w", errBadHeader)
	}
	n, has, err := contentLength(ev.headers)
	if err != nil {
		return frame{}, fmt.Errorf("event: %w", err)
	}
	switch {
	case has && len(s) < n:
		return frame{}, fmt.Errorf("event body: %w", io.ErrUnexpectedEOF)
	case has && len(s) > n, !has && s != "":
		return frame{}, errTrailingBytes
	case has:
		ev.body = []byte(s)
	}
	return ev, nil
}

// urlDecode undoes FreeSWITCH's URL-encoding of event header values:
// "%XX" with two hex digits is the byte XX; anything else, "+" included,
// stands for itself (switch_url_decode does the same).
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			if hi, ok := unhex(s[i+1]); ok {
				if lo, ok := unhex(s[i+2]); ok {
					b = append(b, hi<<4|lo)
					i += 2
					continue
				}
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
