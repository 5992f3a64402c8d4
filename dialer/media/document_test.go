package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func TestSniffDocument(t *testing.T) {
	tests := []struct {
		head string
		want string // "" for not a document
	}{
		{"%PDF-1.7\n", DocumentPDF},
		{"%PDF-", DocumentPDF},
		{"II*\x00\x08\x00\x00\x00", DocumentTIFF},
		{"MM\x00*\x00\x00\x00\x08", DocumentTIFF},
		{"", ""},
		{"%PDF", ""},
		{" %PDF-1.4", ""},
		{"%!PS-Adobe-3.0", ""},
		{"II+\x00\x08\x00\x00\x00", ""}, // BigTIFF
		{"MM*\x00", ""},
		{"GIF89a", ""},
		{"\x89PNG\r\n\x1a\n", ""},
		{"PK\x03\x04", ""}, // DOCX and friends
	}
	for _, tt := range tests {
		got, err := SniffDocument([]byte(tt.head))
		if tt.want == "" {
			if err == nil {
				t.Errorf("SniffDocument(%q) = %q, want an error", tt.head, got)
				continue
			}
			wantInvalid(t, err, ErrNotDocument, notDocument)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SniffDocument(%q) = %q, %v; want %q", tt.head, got, err, tt.want)
		}
	}
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tiffFile builds a TIFF whose directories (one entry each) sit at the
// offsets given; next maps a directory to the one it links to (default:
// the following one, and 0 after the last).
func tiffFile(order byteOrder, pages int, next map[int]uint32) []byte {
	b := make([]byte, 8)
	if order == binary.LittleEndian {
		copy(b, "II*\x00")
	} else {
		copy(b, "MM\x00*")
	}
	const ifdSize = 2 + 12 + 4
	first := uint32(0)
	if pages > 0 {
		first = 8
	}
	order.PutUint32(b[4:], first)
	for i := range pages {
		b = order.AppendUint16(b, 1)
		// ImageWidth, SHORT, 1, 1728 (a fax line)
		b = order.AppendUint16(b, 256)
		b = order.AppendUint16(b, 3)
		b = order.AppendUint32(b, 1)
		b = order.AppendUint32(b, 1728<<16)
		link, ok := next[i]
		if !ok && i+1 < pages {
			link = uint32(8 + (i+1)*ifdSize)
		}
		b = order.AppendUint32(b, link)
	}
	return b
}

func TestCheckDocumentTIFF(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, pages := range []int{1, 3, 50} {
			f := tiffFile(order, pages, nil)
			kind, n, err := CheckDocument(bytes.NewReader(f), int64(len(f)))
			if err != nil || kind != DocumentTIFF || n != pages {
				t.Errorf("%v, %d pages: got %q, %d, %v", order, pages, kind, n, err)
			}
		}
	}

	le := binary.LittleEndian
	emptyIFD := tiffFile(le, 1, nil)
	le.PutUint16(emptyIFD[8:], 0)
	tests := []struct {
		name   string
		file   []byte
		reason string
	}{
		{"no pages", tiffFile(le, 0, nil), "no pages"},
		{"loop to itself", tiffFile(le, 1, map[int]uint32{0: 8}), "loops back"},
		{"loop to the first", tiffFile(le, 3, map[int]uint32{2: 8}), "loops back"},
		{"next past the end", tiffFile(le, 2, map[int]uint32{1: 1 << 30}), "outside the file"},
		{"next inside the header", tiffFile(le, 2, map[int]uint32{1: 4}), "outside the file"},
		{"truncated directory", tiffFile(le, 2, nil)[:30], "past the end"},
		{"empty directory", emptyIFD, "empty directory"},
		{"header only", []byte("II*\x00"), "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := CheckDocument(bytes.NewReader(tt.file), int64(len(tt.file)))
			wantInvalid(t, err, ErrBadDocument, tt.reason)
		})
	}

	t.Run("too many pages", func(t *testing.T) {
		f := tiffFile(le, MaxTIFFPages+1, nil)
		_, _, err := CheckDocument(bytes.NewReader(f), int64(len(f)))
		wantInvalid(t, err, ErrBadDocument, "more than")
	})
}

const pdf2Pages = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" +
	"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n" +
	"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n" +
	"4 0 obj <</Parent 2 0 R/Type/Page>> endobj\n" +
	"5 0 obj << /Type /PageLabel /S /D >> endobj\n" +
	"trailer << /Root 1 0 R >>\n%%EOF\n"

func TestCheckDocumentPDF(t *testing.T) {
	// A page dictionary split across the scanner's 64 KiB reads.
	pad := 64<<10 - len("%PDF-1.4\n") - len("1 0 obj << /Type /Pa") - 1
	straddle := "%PDF-1.4\n%" + strings.Repeat("x", pad) + "\n1 0 obj << /Type /Page >> endobj\n%%EOF"
	if i := strings.Index(straddle, "/Type /Page "); i > 64<<10 || i+len("/Type /Page") < 64<<10 {
		t.Fatalf("test file does not straddle: match at %d", i)
	}
	tests := []struct {
		name  string
		file  string
		pages int
	}{
		{"two pages", pdf2Pages, 2},
		{"newline separated", "%PDF-1.7\n<< /Type\r\n/Page\n>>\n%%EOF", 1},
		{"page at the very end", "%PDF-1.7\n%%EOF\n<</Type /Page", 1},
		{"pages only, in object streams", "%PDF-1.5\n1 0 obj << /Type /ObjStm /N 3 >> stream\nx\x9c...\nendstream\n%%EOF\r\n", 0},
		{"page tree is not a page", "%PDF-1.4\n<< /Type /Pages /Count 1 >>\n%%EOF", 0},
		{"straddling reads", straddle, 1},
		{"EOF followed by junk", "%PDF-1.4\n<< /Type /Page >>\n%%EOF\n" + strings.Repeat("\x00", 1000), 1},
	}
	for _, tt := range tests {
		kind, n, err := CheckDocument(strings.NewReader(tt.file), int64(len(tt.file)))
		if err != nil || kind != DocumentPDF || n != tt.pages {
			t.Errorf("%s: got %q, %d, %v; want pdf, %d", tt.name, kind, n, err, tt.pages)
		}
	}

	for name, file := range map[string]string{
		"truncated":       pdf2Pages[:len(pdf2Pages)/2],
		"header only":     "%PDF-",
		"EOF too far off": "%PDF-1.4\n%%EOF\n" + strings.Repeat(" ", 1100),
	} {
		_, _, err := CheckDocument(strings.NewReader(file), int64(len(file)))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantInvalid(t, err, ErrBadDocument, "%%EOF")
	}
}

type failReaderAt struct{ err error }

func (r failReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestCheckDocumentReadErrors(t *testing.T) {
	// A reader shorter than the size it was said to have: the upload was cut.
	_, _, err := CheckDocument(strings.NewReader(pdf2Pages), int64(len(pdf2Pages))+100)
	wantInvalid(t, err, ErrBadDocument, "truncated")

	boom := errors.New("i/o error")
	_, _, err = CheckDocument(failReaderAt{boom}, 100)
	if !errors.Is(err, boom) || dialer.ErrorCode(err) != dialer.CodeInternal {
		t.Errorf("read failure: got %v, want the reader's error", err)
	}
	if _, _, err := CheckDocument(strings.NewReader(""), -1); err == nil {
		t.Errorf("negative size accepted")
	}
	_, _, err = CheckDocument(strings.NewReader(""), 0)
	wantInvalid(t, err, ErrNotDocument, notDocument)
}

func FuzzSniffDocument(f *testing.F) {
	f.Add([]byte(pdf2Pages))
	f.Add(tiffFile(binary.LittleEndian, 3, nil))
	f.Add(tiffFile(binary.BigEndian, 2, map[int]uint32{1: 8}))
	f.Add([]byte("II*\x00\xff\xff\xff\xff"))
	f.Add([]byte("%PDF-%%EOF/Type/Page"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, err := SniffDocument(data)
		switch {
		case err != nil:
			if kind != "" || !errors.Is(err, ErrNotDocument) {
				t.Fatalf("SniffDocument = %q, %v", kind, err)
			}
		case kind == DocumentPDF && !bytes.HasPrefix(data, []byte("%PDF-")),
			kind == DocumentTIFF && !bytes.HasPrefix(data, []byte("II*\x00")) && !bytes.HasPrefix(data, []byte("MM\x00*")),
			kind != DocumentPDF && kind != DocumentTIFF:
			t.Fatalf("SniffDocument(%q) = %q", data, kind)
		}

		checked, pages, cerr := CheckDocument(bytes.NewReader(data), int64(len(data)))
		if cerr != nil {
			if dialer.ErrorCode(cerr) != dialer.CodeInvalid {
				t.Fatalf("CheckDocument: %v is not a validation error", cerr)
			}
			return
		}
		if err != nil || checked != kind {
			t.Fatalf("CheckDocument = %q, sniffed %q, %v", checked, kind, err)
		}
		if pages < 0 || (kind == DocumentTIFF && (pages < 1 || pages > MaxTIFFPages)) {
			t.Fatalf("CheckDocument: %d pages of %s", pages, kind)
		}
	})
}
