package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer/media"
)

// testFax is the converter of the message harness: Ghostscript when it is
// installed, else a stand-in that writes a fax TIFF of as many pages as
// the PDF says, so that the tests of everything else run on any host.
// The tests of conversion itself ask for the real one (realFax).
func testFax(t *testing.T) faxConverter {
	t.Helper()
	if _, err := osexec.LookPath("gs"); err != nil {
		return standInFax{}
	}
	return realFax(t)
}

func realFax(t *testing.T) *media.Ghostscript {
	t.Helper()
	g, err := media.NewGhostscript(media.GhostscriptOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Skip("gs (Debian package ghostscript) is not installed; make test-deps installs it")
	}
	return g
}

type standInFax struct{}

func (standInFax) PDFToFax(_ context.Context, src io.Reader, dst io.Writer) (int, error) {
	b, err := io.ReadAll(src)
	if err != nil {
		return 0, err
	}
	_, pages, err := media.CheckDocument(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, err
	}
	_, err = dst.Write(testTIFF(pages))
	return pages, err
}

// Before: a PDF was stored as uploaded and handed to txfax, which cannot
// open it (result 41, TIFF/F file cannot be opened); a PDF with no page
// tree or no pages was accepted with pages 0; a TIFF of any kind was
// accepted. After: the PDF is converted to a G4 fax TIFF kept beside it,
// pages counted from it; what cannot be converted is a 412 on "file" and
// changes nothing.
func TestDocumentUploadConvertsPDFToFax(t *testing.T) {
	gs := realFax(t)
	e := newMessageEnv(t, func(d *Deps) { d.Fax = gs })
	id := e.create(e.admin, "/messages/documents", "document_id", map[string]any{"name": "fax"})
	one := fmt.Sprintf("/messages/documents/%d", id)
	mediaPath := one + "/media"

	pdf := testPDF(2)
	e.expect(e.upload(e.admin, mediaPath, "application/pdf", pdf), 200)
	var d map[string]any
	e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &d)
	if d["type"] != "pdf" || d["pages"] != float64(2) {
		t.Fatalf("after a PDF upload: %v", d)
	}
	files := e.files()
	if len(files) != 2 || !strings.HasSuffix(files[0], ".pdf") || files[1] != strings.TrimSuffix(files[0], ".pdf")+".tif" {
		t.Fatalf("stored %v, want <sha>.pdf and <sha>.tif beside it", files)
	}
	tif, err := os.ReadFile(filepath.Join(e.mediaDir, files[1]))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := media.CheckFaxTIFF(bytes.NewReader(tif), int64(len(tif))); n != 2 || err != nil {
		t.Fatalf("the fax copy: %d pages, %v", n, err)
	}
	e.download(e.admin, mediaPath, "application/pdf", pdf) // the download is the upload

	before := e.snapshot()
	for name, body := range map[string][]byte{
		"garbage":      []byte("%PDF-1.4\nthis is no PDF at all\n%%EOF\n"),
		"no page tree": bytes.Replace(testPDF(1), []byte("/Pages 2 0 R"), []byte("            "), 1),
		"zero pages":   testPDF(0),
		// Before: 200 with "pages": 0 (issue 11).
		"catalog only": []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 2\n0000000000 65535 f \n" +
			"0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n45\n%%EOF\n"),
		"not TIFF-F": notFaxTIFF(),
	} {
		r := e.upload(e.admin, mediaPath, "application/pdf", body)
		e.expectField(r, "file")
		t.Logf("%s: %s", name, r.Body)
		if e.snapshot() != before {
			t.Fatalf("rejected %s changed the store", name)
		}
	}

	e.expect(e.upload(e.admin, mediaPath, "image/tiff", testTIFF(1)), 200)
}

// Without Ghostscript a PDF is refused, saying what is missing, and
// nothing is written; a fax TIFF is still taken.
func TestDocumentUploadWithoutGhostscript(t *testing.T) {
	e := newMessageEnv(t, func(d *Deps) { d.Fax = nil })
	id := e.create(e.admin, "/messages/documents", "document_id", map[string]any{"name": "fax"})
	mediaPath := fmt.Sprintf("/messages/documents/%d/media", id)
	before := e.snapshot()
	r := e.upload(e.admin, mediaPath, "application/pdf", testPDF(1))
	e.expectField(r, "file")
	if !strings.Contains(string(r.Body), "ghostscript") || e.snapshot() != before {
		t.Fatalf("PDF without Ghostscript: %s", r.Body)
	}
	e.expect(e.upload(e.admin, mediaPath, "image/tiff", testTIFF(1)), 200)
}

// notFaxTIFF is a TIFF txfax cannot send: 8 pixels wide, uncompressed.
func notFaxTIFF() []byte {
	b := testTIFF(1)
	b = bytes.Replace(b, []byte{0, 1, 3, 0, 1, 0, 0, 0, 0xc0, 0x06}, []byte{0, 1, 3, 0, 1, 0, 0, 0, 8, 0}, 1)
	return bytes.Replace(b, []byte{3, 1, 3, 0, 1, 0, 0, 0, 4, 0}, []byte{3, 1, 3, 0, 1, 0, 0, 0, 1, 0}, 1)
}
