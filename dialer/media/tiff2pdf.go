package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoTIFF2PDF is NewTIFF2PDF's error when libtiff's tiff2pdf is not
// there: received faxes cannot be kept as PDF without it.
var ErrNoTIFF2PDF = errors.New("tiff2pdf not found: install the Debian package libtiff-tools")

// TIFF2PDF converts received fax TIFFs to PDF with libtiff's tiff2pdf
// (Debian libtiff-tools), which wraps the G3/G4 pages as they are, without
// re-rendering them.
type TIFF2PDF struct {
	path    string
	timeout time.Duration
}

// NewTIFF2PDF finds tiff2pdf at path ("" looks it up in PATH).
func NewTIFF2PDF(path string) (*TIFF2PDF, error) {
	p, err := exec.LookPath(cmp.Or(path, "tiff2pdf"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTIFF2PDF, err)
	}
	return &TIFF2PDF{path: p, timeout: 30 * time.Second}, nil
}

// Convert writes the PDF of the TIFF read from src to dst. tiff2pdf seeks
// in both, so they go through a scratch directory.
func (t *TIFF2PDF) Convert(ctx context.Context, src io.Reader, dst io.Writer) error {
	dir, err := os.MkdirTemp("", "dialerd-tiff2pdf-")
	if err != nil {
		return fmt.Errorf("media: tiff2pdf scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "fax.tif"), filepath.Join(dir, "fax.pdf")
	f, err := os.Create(in)
	if err != nil {
		return fmt.Errorf("media: tiff2pdf input: %w", err)
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("media: tiff2pdf input: %w", err)
	}
	runCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, t.path, "-o", out, in)
	cmd.Dir = dir
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("media: tiff2pdf: %w: %s", err, truncate(strings.TrimSpace(string(stderr.Bytes())), 160))
	}
	pdf, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("media: tiff2pdf output: %w", err)
	}
	defer pdf.Close()
	if _, err := io.Copy(dst, pdf); err != nil {
		return fmt.Errorf("media: tiff2pdf output: %w", err)
	}
	return nil
}
