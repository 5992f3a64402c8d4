package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Document kinds, as SniffDocument and CheckDocument name them.
const (
	DocumentPDF  = "pdf"
	DocumentTIFF = "tif"
)

// MaxTIFFPages bounds the walk of a TIFF's directory chain; a fax of more
// pages is certainly a mistake, and a crafted chain could be long.
const MaxTIFFPages = 10000

const notDocument = "not a document: expected PDF or TIFF"

// SniffDocument tells a fax document's kind from its first bytes: "pdf" for
// "%PDF-", "tif" for a little- or big-endian TIFF header. Anything else is a
// *dialer.Error with CodeInvalid wrapping ErrNotDocument. BigTIFF is not
// accepted: fax tools do not write it.
func SniffDocument(head []byte) (kind string, err error) {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return DocumentPDF, nil
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return DocumentTIFF, nil
	}
	return "", invalid(ErrNotDocument, nil, notDocument)
}

// CheckDocument sniffs the document of size bytes in r and checks that its
// structure is whole enough to send, returning its kind and page count.
//
// For TIFF it follows the chain of image directories, one per page,
// refusing offsets outside the file, loops, and more than MaxTIFFPages.
//
// For PDF it requires the %%EOF marker in the last 1024 bytes, where readers
// look for it, which catches truncated uploads. The page count is
// approximate: it counts "/Type /Page" dictionaries in the file as stored,
// so pages kept in compressed object streams (PDF 1.5+) are not seen and
// give 0, meaning unknown, and incrementally updated pages may count twice.
//
// Bad documents give a *dialer.Error with CodeInvalid wrapping
// ErrNotDocument or ErrBadDocument; a failing r gives its error, wrapped.
func CheckDocument(r io.ReaderAt, size int64) (kind string, pages int, err error) {
	if size < 0 {
		return "", 0, fmt.Errorf("media: CheckDocument: negative size %d", size)
	}
	head := make([]byte, min(size, 8))
	if err := readAt(r, head, 0); err != nil {
		return "", 0, err
	}
	if kind, err = SniffDocument(head); err != nil {
		return "", 0, err
	}
	switch kind {
	case DocumentTIFF:
		pages, err = tiffPages(r, size)
	default:
		pages, err = pdfPages(r, size)
	}
	if err != nil {
		return "", 0, err
	}
	return kind, pages, nil
}

// readAt fills b from r at off. A reader shorter than the size it was
// said to have is a truncated document, not a server fault.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	switch {
	case n == len(b):
		return nil
	case errors.Is(err, io.EOF) || err == nil:
		return invalid(ErrBadDocument, err, "truncated")
	default:
		return fmt.Errorf("media: reading document: %w", err)
	}
}

// tiffPages counts the image file directories of a TIFF.
func tiffPages(r io.ReaderAt, size int64) (int, error) {
	return walkTIFF(r, size, nil)
}

// tiffEntry is one entry of an image file directory: a tag, its field
// type, its count, and the 4 bytes of value or offset as stored.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	value    [4]byte
}

// walkTIFF follows the chain of image directories of a TIFF, one per page,
// refusing offsets outside the file, loops, and more than MaxTIFFPages, and
// hands each page's entries to visit (when not nil). It returns the pages.
func walkTIFF(r io.ReaderAt, size int64, visit func(page int, order binary.ByteOrder, entries []tiffEntry) error) (int, error) {
	var hdr [8]byte
	if size < int64(len(hdr)) {
		return 0, invalid(ErrBadDocument, nil, "TIFF: truncated header")
	}
	if err := readAt(r, hdr[:], 0); err != nil {
		return 0, err
	}
	var order binary.ByteOrder = binary.BigEndian
	if hdr[0] == 'I' {
		order = binary.LittleEndian
	}
	off := int64(order.Uint32(hdr[4:]))
	seen := make(map[int64]bool)
	pages := 0
	var read int64 // bytes of directory entries handed to visit
	for off != 0 {
		switch {
		case pages == MaxTIFFPages:
			return 0, invalid(ErrBadDocument, nil, "TIFF: more than %d pages", MaxTIFFPages)
		case off < int64(len(hdr)) || off > size-2:
			return 0, invalid(ErrBadDocument, nil, "TIFF: page %d is outside the file (truncated?)", pages+1)
		case seen[off]:
			return 0, invalid(ErrBadDocument, nil, "TIFF: page %d loops back to an earlier one", pages+1)
		}
		seen[off] = true
		var buf [4]byte
		if err := readAt(r, buf[:2], off); err != nil {
			return 0, err
		}
		n := int64(order.Uint16(buf[:]))
		next := off + 2 + 12*n
		switch {
		case n == 0:
			return 0, invalid(ErrBadDocument, nil, "TIFF: page %d has an empty directory", pages+1)
		case next+4 > size:
			return 0, invalid(ErrBadDocument, nil, "TIFF: page %d runs past the end of the file (truncated?)", pages+1)
		}
		if visit != nil {
			// Directories of a real TIFF do not overlap, so together they
			// fit in the file; crafted ones reusing bytes could make the
			// walk read the file many times over.
			if read += 12 * n; read > size {
				return 0, invalid(ErrBadDocument, nil, "TIFF: page %d: directories overlap", pages+1)
			}
			raw := make([]byte, 12*n)
			if err := readAt(r, raw, off+2); err != nil {
				return 0, err
			}
			entries := make([]tiffEntry, n)
			for i := range entries {
				e := raw[12*i:]
				entries[i] = tiffEntry{tag: order.Uint16(e), typ: order.Uint16(e[2:]), count: order.Uint32(e[4:])}
				copy(entries[i].value[:], e[8:12])
			}
			if err := visit(pages+1, order, entries); err != nil {
				return 0, err
			}
		}
		if err := readAt(r, buf[:], next); err != nil {
			return 0, err
		}
		off = int64(order.Uint32(buf[:]))
		pages++
	}
	if pages == 0 {
		return 0, invalid(ErrBadDocument, nil, "TIFF: no pages")
	}
	return pages, nil
}

// pdfPages checks the end of a PDF and counts its page dictionaries.
func pdfPages(r io.ReaderAt, size int64) (int, error) {
	tail := make([]byte, min(size, 1024))
	if err := readAt(r, tail, size-int64(len(tail))); err != nil {
		return 0, err
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return 0, invalid(ErrBadDocument, nil, "PDF: no %%%%EOF marker at the end (truncated?)")
	}
	var m pageMatcher
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		if err := readAt(r, buf[:n], off); err != nil {
			return 0, err
		}
		for _, c := range buf[:n] {
			m.feed(c)
		}
		off += int64(n)
	}
	m.feed(' ') // a match may end at the last byte
	return m.pages, nil
}

// pageMatcher counts "/Type /Page" in a byte stream: the name /Type, optional
// white space, and the name /Page ended by a delimiter, so that /Pages (the
// page tree) is not counted. Its state is a few bytes, so the file can be
// fed in chunks regardless of where they split.
type pageMatcher struct {
	state int // bytes of "/Type" matched, then also of "/Page"
	pages int
}

func (m *pageMatcher) feed(c byte) {
	const typeName, pageName = "/Type", "/Page"
	const afterType = len(typeName)
	const done = afterType + len(pageName)
	switch s := m.state; {
	case s < afterType:
		if c == typeName[s] {
			m.state++
			return
		}
	case s == afterType:
		if pdfSpace(c) {
			return
		}
		if c == '/' {
			m.state++
			return
		}
	case s < done:
		if c == pageName[s-afterType] {
			m.state++
			return
		}
	default: // the name must end here, or it is /Pages or some other
		if pdfSpace(c) || pdfDelimiter(c) {
			m.pages++
		}
	}
	m.state = 0
	if c == '/' {
		m.state = 1
	}
}

func pdfSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func pdfDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}
