package media

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// realFaxTIFF is a one-page G4 fax TIFF drawn by Ghostscript.
func realFaxTIFF(t *testing.T) []byte {
	t.Helper()
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Skip("gs (Debian package ghostscript) is not installed")
	}
	out := filepath.Join(t.TempDir(), "fax.tif")
	cmd := exec.Command(gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4", "-r204x196", "-g1728x2292",
		"-sOutputFile="+out, "-c", "newpath 100 100 moveto 500 500 lineto stroke showpage")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gs: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTIFF2PDF(t *testing.T) {
	conv, err := NewTIFF2PDF("")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var pdf bytes.Buffer
	if err := conv.Convert(context.Background(), bytes.NewReader(realFaxTIFF(t)), &pdf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) || !bytes.Contains(pdf.Bytes(), []byte("/CCITTFaxDecode")) {
		t.Errorf("not a PDF of the fax pages: %q…", pdf.Bytes()[:min(40, pdf.Len())])
	}
	if err := conv.Convert(context.Background(), bytes.NewReader([]byte("not a tiff")), &pdf); err == nil {
		t.Error("converted garbage")
	}
	if _, err := NewTIFF2PDF("/nonexistent/tiff2pdf"); err == nil {
		t.Error("found a missing binary")
	}
}
