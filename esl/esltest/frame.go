package esltest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Limits applied by ReadFrame so that a broken or hostile peer cannot make
// the reader allocate without bound. Real FreeSWITCH frames are far below
// them: header lines are short (long values travel in bodies) and the
// largest event bodies are a few tens of kilobytes.
const (
	MaxHeaderLine = 64 << 10 // bytes in one header line, excluding the newline
	MaxHeaders    = 256      // header lines in one frame
	MaxBody       = 16 << 20 // bytes announced by Content-Length
)

// Error is the type of the errors this package defines; being a string type
// they can be constants and compared with errors.Is.
type Error string

func (e Error) Error() string { return string(e) }

// Errors returned by ReadFrame and the event parsers.
const (
	ErrLineTooLong      Error = "esltest: header line too long"
	ErrTooManyHeaders   Error = "esltest: too many header lines"
	ErrMalformedHeader  Error = "esltest: malformed header line"
	ErrEmptyFrame       Error = "esltest: frame without headers"
	ErrBadContentLength Error = "esltest: bad Content-Length"
	ErrBodyTooLarge     Error = "esltest: Content-Length over limit"
	ErrTrailingData     Error = "esltest: data after the announced Content-Length"
)

// Header is one "Name: value" line. Order matters in FreeSWITCH output
// (CHANNEL_HANGUP_COMPLETE even carries Hangup-Cause twice), so frames and
// events keep headers as an ordered list rather than a map.
type Header struct {
	Name  string
	Value string
}

// Frame is one message on the Event Socket: headers, then Content-Length
// bytes of body when that header is present.
type Frame struct {
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named name (case-insensitive),
// or "" when there is none.
func (f Frame) Get(name string) string {
	v, _ := lookup(f.Headers, name)
	return v
}

// ContentType returns the Content-Type header.
func (f Frame) ContentType() string { return f.Get("Content-Type") }

// Bytes encodes the frame exactly as it is given: the caller is responsible
// for a Content-Length header that matches Body.
func (f Frame) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range f.Headers {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(f.Body)
	return b.Bytes()
}

// ReadFrame reads one frame from r. Lines end in LF (a CR before it is
// tolerated); a blank line ends the headers; a Content-Length header is
// followed by exactly that many bytes of body. At a clean frame boundary
// it returns io.EOF; a frame cut short returns io.ErrUnexpectedEOF.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	headers, err := readHeaderBlock(r, MaxHeaderLine, MaxHeaders)
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Headers: headers}
	n, ok, err := contentLength(headers)
	if err != nil || !ok {
		return f, err
	}
	f.Body, err = readBody(r, n)
	if err != nil {
		return Frame{}, err
	}
	return f, nil
}

// readHeaderBlock reads header lines up to the blank line that ends them.
func readHeaderBlock(r *bufio.Reader, maxLine, maxHeaders int) ([]Header, error) {
	var headers []Header
	for {
		line, err := readLine(r, maxLine)
		if err != nil {
			if errors.Is(err, io.EOF) && len(headers) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if line == "" {
			if len(headers) == 0 {
				return nil, ErrEmptyFrame
			}
			return headers, nil
		}
		if len(headers) == maxHeaders {
			return nil, ErrTooManyHeaders
		}
		h, ok := parseHeaderLine(line)
		if !ok {
			return nil, ErrMalformedHeader
		}
		headers = append(headers, h)
	}
}

// parseHeaderLine splits "Name: value". FreeSWITCH writes one space after
// the colon; like its own parser we skip any number of them.
func parseHeaderLine(line string) (Header, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return Header{}, false
	}
	return Header{Name: name, Value: strings.TrimLeft(value, " ")}, true
}

// readLine returns the next line without its LF (and CRs), refusing lines
// longer than limit bytes. EOF before any byte is io.EOF; EOF inside a line
// is io.ErrUnexpectedEOF.
func readLine(r *bufio.Reader, limit int) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit+2 { // +2: the CR LF themselves
			return "", ErrLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = bytes.TrimRight(line[:len(line)-1], "\r")
			if len(line) > limit {
				return "", ErrLineTooLong
			}
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// contentLength finds and validates the Content-Length header. Repeated
// headers must agree, otherwise two readers could frame the stream
// differently.
func contentLength(headers []Header) (n int, ok bool, err error) {
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		v, err := parseLength(h.Value)
		if err != nil {
			return 0, false, err
		}
		if ok && v != n {
			return 0, false, ErrBadContentLength
		}
		n, ok = v, true
	}
	return n, ok, nil
}

func parseLength(s string) (int, error) {
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return 0, ErrBadContentLength
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, ErrBadContentLength
	}
	if n > MaxBody {
		return 0, ErrBodyTooLarge
	}
	return n, nil
}

// readBody reads exactly n bytes. The buffer grows with the data actually
// received, so a large Content-Length with no data behind it costs nothing.
func readBody(r io.Reader, n int) ([]byte, error) {
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// lookup returns the first header named name, case-insensitively, as
// FreeSWITCH's own event API does.
func lookup(headers []Header, name string) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}
