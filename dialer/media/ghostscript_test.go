package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// buildPDF writes a PDF by hand: objs are the bodies of objects 1, 2, …
// (object 1 is the catalog), with a correct cross-reference table.
func buildPDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// textPDF is a PDF of pages pages (letter, then A4, alternating), each a
// line of text and a diagonal.
func textPDF(pages int) []byte {
	content := "BT /F1 24 Tf 72 700 Td (dialerd fax test) Tj ET 72 72 m 500 600 l S"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"", // the page tree, below
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	var kids []string
	for i := range pages {
		box := "0 0 612 792"
		if i%2 == 1 {
			box = "0 0 595 842"
		}
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>", box))
		kids = append(kids, fmt.Sprintf("%d 0 R", len(objs)))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)
	return buildPDF(objs...)
}

// tiffTags is a test's own reader of TIFF directories, independent of the
// code under test: for each page, each tag's first value (RATIONALs as
// numerator/denominator rounded).
func tiffTags(t *testing.T, b []byte) []map[uint16]float64 {
	t.Helper()
	if len(b) < 8 || string(b[:4]) != "II*\x00" && string(b[:4]) != "MM\x00*" {
		t.Fatalf("not a TIFF: % x", b[:min(len(b), 8)])
	}
	var o binary.ByteOrder = binary.BigEndian
	if b[0] == 'I' {
		o = binary.LittleEndian
	}
	var pages []map[uint16]float64
	for off := o.Uint32(b[4:]); off != 0; {
		if len(pages) > 1000 || int(off)+2 > len(b) {
			t.Fatalf("bad directory offset %d", off)
		}
		n := int(o.Uint16(b[off:]))
		tags := map[uint16]float64{}
		for i := range n {
			e := b[int(off)+2+12*i:]
			tag, typ := o.Uint16(e), o.Uint16(e[2:])
			switch typ {
			case 3:
				tags[tag] = float64(o.Uint16(e[8:]))
			case 4:
				tags[tag] = float64(o.Uint32(e[8:]))
			case 5:
				p := o.Uint32(e[8:])
				tags[tag] = float64(o.Uint32(b[p:])) / float64(o.Uint32(b[p+4:]))
			}
		}
		pages = append(pages, tags)
		off = o.Uint32(b[int(off)+2+12*n:])
	}
	return pages
}

func newTestGhostscript(t *testing.T, o GhostscriptOptions) *Ghostscript {
	t.Helper()
	if _, err := exec.LookPath("gs"); err != nil {
		t.Skip("gs (Debian package ghostscript) is not installed; make test-deps installs it")
	}
	g, err := NewGhostscript(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPDFToFaxWritesTIFFF(t *testing.T) {
	g := newTestGhostscript(t, GhostscriptOptions{})
	var out bytes.Buffer
	pages, err := g.PDFToFax(context.Background(), bytes.NewReader(textPDF(3)), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := tiffTags(t, out.Bytes())
	if pages != 3 || len(got) != 3 {
		t.Fatalf("pages %d, TIFF directories %d; want 3", pages, len(got))
	}
	for i, tags := range got {
		want := map[uint16]float64{
			259: 4,    // Compression: CCITT T.6 (G4)
			256: 1728, // ImageWidth
			257: 2292, // ImageLength: A4 at 196 lpi
			282: 204,  // XResolution
			283: 196,  // YResolution
			296: 2,    // ResolutionUnit: inch
		}
		for tag, v := range want {
			if tags[tag] != v {
				t.Errorf("page %d: tag %d = %v, want %v", i+1, tag, tags[tag], v)
			}
		}
	}
	if n, err := CheckFaxTIFF(bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil || n != 3 {
		t.Fatalf("CheckFaxTIFF of the output = %d, %v", n, err)
	}
}

func TestPDFToFaxRefuses(t *testing.T) {
	g := newTestGhostscript(t, GhostscriptOptions{MaxPages: 2})
	tests := []struct {
		name string
		pdf  []byte
		want string
	}{
		{"garbage", []byte("%PDF-1.4\nthis is no PDF at all\n%%EOF\n"), "cannot read it"},
		{"no page tree", buildPDF("<< /Type /Catalog >>"), "cannot read it"},
		{"zero pages", buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"), "has no pages"},
		{"too many pages", textPDF(3), "more than 2 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := g.PDFToFax(context.Background(), bytes.NewReader(tt.pdf), &out)
			wantInvalid(t, err, ErrBadDocument, tt.want)
			var e *dialer.Error
			errors.As(err, &e)
			t.Logf("file: %s", e.Fields["file"])
			if out.Len() != 0 {
				t.Errorf("%d bytes written for a refused PDF", out.Len())
			}
		})
	}
}

func TestPDFToFaxTimeout(t *testing.T) {
	g := newTestGhostscript(t, GhostscriptOptions{Timeout: time.Nanosecond})
	_, err := g.PDFToFax(context.Background(), bytes.NewReader(textPDF(1)), &bytes.Buffer{})
	wantInvalid(t, err, ErrBadDocument, "took longer than")
}

func TestPDFToFaxWaitsForAJob(t *testing.T) {
	g := newTestGhostscript(t, GhostscriptOptions{Jobs: 1})
	g.jobs <- struct{}{} // the one job is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := g.PDFToFax(ctx, bytes.NewReader(textPDF(1)), &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) || dialer.ErrorCode(err) == dialer.CodeInvalid {
		t.Fatalf("with every job taken: %v, want the context's deadline, not a bad document", err)
	}
	<-g.jobs

	// Two at once is the default: both finish.
	g = newTestGhostscript(t, GhostscriptOptions{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := g.PDFToFax(context.Background(), bytes.NewReader(textPDF(1)), &bytes.Buffer{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestNewGhostscriptMissing(t *testing.T) {
	_, err := NewGhostscript(GhostscriptOptions{Path: "/nonexistent/gs"})
	if !errors.Is(err, ErrNoGhostscript) {
		t.Fatalf("NewGhostscript with no binary: %v, want ErrNoGhostscript", err)
	}
}
