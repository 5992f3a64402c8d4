package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// Message is an inbound mail as dialerd keeps it.
type Message struct {
	From      string // the From header's address
	Subject   string // decoded, on one line
	MessageID string
	Header    string // the header block as received (at most the parse's header limit)
	Text      string // the first text/plain part
	HTML      string // the first text/html part
	Parts     []Attachment
}

// Attachment is a part of a message that is not its text.
type Attachment struct {
	Name        string // file name, base name only, on one line
	ContentType string // lower case, without parameters
	Data        []byte
}

// Limits of what ParseMessage walks: a message is bounded by the
// listener's size limit already; these bound the work inside it.
const (
	maxParts = 50
	maxDepth = 5
)

// DefaultMaxHeaderBytes is how much of a message's header block
// ParseMessage keeps (InConfig.MaxHeaderBytes, mail.in.max_header_bytes).
const DefaultMaxHeaderBytes = 16 << 10

var errTooComplex = errors.New("message has too many parts or nests them too deep")

// ParseMessage reads a MIME message: its headers, text and attachments.
func ParseMessage(r io.Reader) (*Message, error) {
	return ParseMessageKeeping(r, DefaultMaxHeaderBytes)
}

// ParseMessageKeeping is ParseMessage keeping at most maxHeader bytes of
// the header block in Message.Header (the headers are all read).
func ParseMessageKeeping(r io.Reader, maxHeader int) (*Message, error) {
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a mail message: %w", err)
	}
	m := &Message{}
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		m.Header = string(raw[:min(i, maxHeader)])
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		m.Header = string(raw[:min(i, maxHeader)])
	}
	m.Header = strings.ToValidUTF8(m.Header, "\uFFFD")
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	if s, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = s
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	m.Subject = oneLine(strings.ToValidUTF8(m.Subject, "\uFFFD"))
	if a, err := netmail.ParseAddress(msg.Header.Get("From")); err == nil {
		m.From = oneLine(a.Address)
	}
	m.MessageID = oneLine(msg.Header.Get("Message-Id"))
	n := 0
	if err := m.walk(mimeHeader(msg.Header), msg.Body, 0, &n); err != nil {
		return nil, err
	}
	return m, nil
}

// mimeHeader turns a mail header into the MIME header multipart uses.
func mimeHeader(h netmail.Header) map[string][]string { return h }

func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii", "":
		return input, nil
	}
	// Other charsets are kept as bytes, made valid UTF-8 later.
	return input, nil
}

func (m *Message) walk(h map[string][]string, body io.Reader, depth int, n *int) error {
	*n++
	if *n > maxParts || depth > maxDepth {
		return errTooComplex
	}
	header := netmail.Header(h)
	mt, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	mt = strings.ToLower(mt)
	if strings.HasPrefix(mt, "multipart/") {
		if params["boundary"] == "" {
			return errors.New("multipart without a boundary")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("bad multipart: %w", err)
			}
			if err := m.walk(p.Header, p, depth+1, n); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decoder(header.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return fmt.Errorf("bad %s part: %w", mt, err)
	}
	name := ""
	if _, dp, err := mime.ParseMediaType(header.Get("Content-Disposition")); err == nil {
		name = dp["filename"]
	}
	if name == "" {
		name = params["name"]
	}
	switch {
	case name == "" && mt == "text/plain" && m.Text == "":
		m.Text = strings.ToValidUTF8(string(data), "\uFFFD")
	case name == "" && mt == "text/html" && m.HTML == "":
		m.HTML = strings.ToValidUTF8(string(data), "\uFFFD")
	default:
		m.Parts = append(m.Parts, Attachment{Name: safeName(name), ContentType: mt, Data: data})
	}
	return nil
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks and blanks of a base64 body.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// safeName is a file name as a part gives it, reduced to a base name on
// one line.
func safeName(s string) string {
	s = oneLine(strings.ToValidUTF8(s, ""))
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(s)
	if len(s) > 128 {
		s = s[:128]
	}
	if s == "" || s == "." || s == ".." {
		return "attachment"
	}
	return s
}

// FaxDocument is the first PDF or TIFF attachment of m, told by content.
func (m *Message) FaxDocument() (Attachment, bool) {
	for _, p := range m.Parts {
		switch {
		case bytes.HasPrefix(p.Data, []byte("%PDF-")):
			return p, true
		case bytes.HasPrefix(p.Data, []byte("II*\x00")), bytes.HasPrefix(p.Data, []byte("MM\x00*")):
			return p, true
		}
	}
	return Attachment{}, false
}
