package media

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoGhostscript is NewGhostscript's error when the gs binary is not
// there: PDF documents cannot be converted to fax without it.
var ErrNoGhostscript = errors.New("ghostscript (gs) not found: install the Debian package ghostscript")

// Defaults of GhostscriptOptions. A conversion runs within an upload
// request, so its time limit stays well inside the API's write timeout
// (60 s by default); a page takes well under a second.
const (
	DefaultGhostscriptTimeout = 25 * time.Second
	DefaultFaxMaxPages        = 100
	DefaultGhostscriptJobs    = 2
)

// faxPageLength is an A4 page, 297 mm, at 196 lines per inch. Every page is
// rendered to this one size (letter pages are fitted into it): the raster
// Ghostscript holds is then bounded whatever the PDF asks for.
const faxPageLength = 2292

// GhostscriptOptions configure a Ghostscript.
type GhostscriptOptions struct {
	// Path is the gs binary; "" looks up gs in PATH.
	Path string
	// Timeout bounds one conversion (DefaultGhostscriptTimeout when 0).
	Timeout time.Duration
	// MaxPages refuses longer documents (DefaultFaxMaxPages when 0).
	MaxPages int
	// Jobs is how many conversions run at once; more wait their turn
	// (DefaultGhostscriptJobs when 0).
	Jobs int
	// TempDir holds each conversion's scratch directory; "" is os.TempDir.
	TempDir string
}

// Ghostscript converts PDF documents to fax TIFF (TIFF-F, G4, 204×196 dpi,
// 1728 pixels wide) by running Ghostscript's tiffg4 device. The PDF is
// untrusted: gs runs with -dSAFER (no file access beyond its input and
// output), stops at the first PDF error, renders at most MaxPages+1 pages
// at one fixed page size, is killed at Timeout, and at most Jobs run at
// once.
type Ghostscript struct {
	path     string
	timeout  time.Duration
	maxPages int
	tempDir  string
	jobs     chan struct{}
}

// NewGhostscript finds the gs binary; without one it returns
// ErrNoGhostscript.
func NewGhostscript(o GhostscriptOptions) (*Ghostscript, error) {
	path, err := exec.LookPath(cmp.Or(o.Path, "gs"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGhostscript, err)
	}
	g := &Ghostscript{
		path:     path,
		timeout:  cmp.Or(o.Timeout, DefaultGhostscriptTimeout),
		maxPages: cmp.Or(o.MaxPages, DefaultFaxMaxPages),
		tempDir:  o.TempDir,
		jobs:     make(chan struct{}, cmp.Or(o.Jobs, DefaultGhostscriptJobs)),
	}
	return g, nil
}

// PDFToFax renders the PDF read from src as a fax TIFF written to dst and
// returns its page count. A PDF Ghostscript cannot render, or that has no
// pages or more than MaxPages, is a *dialer.Error with CodeInvalid on the
// field "file" wrapping ErrBadDocument; so is one that takes longer than
// the timeout. ctx ending first gives ctx's error.
func (g *Ghostscript) PDFToFax(ctx context.Context, src io.Reader, dst io.Writer) (int, error) {
	select {
	case g.jobs <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("media: waiting to convert a PDF: %w", ctx.Err())
	}
	defer func() { <-g.jobs }()

	dir, err := os.MkdirTemp(g.tempDir, "dialerd-gs-")
	if err != nil {
		return 0, fmt.Errorf("media: ghostscript scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "fax.tif")

	runCtx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	// TIFF output must be seekable, so gs writes a file; the PDF comes on
	// stdin, which gs spools to TMPDIR (the scratch directory) itself.
	cmd := exec.CommandContext(runCtx, g.path,
		"-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOPROMPT",
		"-dPDFSTOPONERROR", // a page that fails to draw would be left out silently
		"-sstdout=%stderr", // PostScript's stdout must not mix with anything we read
		"-sDEVICE=tiffg4",
		"-r"+strconv.Itoa(FaxXDPI)+"x"+strconv.Itoa(FaxYDPIFine),
		"-g"+strconv.Itoa(FaxWidth)+"x"+strconv.Itoa(faxPageLength),
		"-dFIXEDMEDIA", "-dPDFFitPage",
		"-dFirstPage=1", "-dLastPage="+strconv.Itoa(g.maxPages+1),
		"-sOutputFile="+out,
		"-")
	cmd.Stdin = src
	cmd.Dir = dir
	cmd.Env = []string{"TMPDIR=" + dir, "HOME=" + dir}
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.WaitDelay = 5 * time.Second // stdin copying must not outlive a killed gs
	runErr := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("media: converting a PDF: %w", ctx.Err())
	case runCtx.Err() != nil:
		return 0, invalid(ErrBadDocument, runCtx.Err(), "PDF: converting it to a fax took longer than %s", g.timeout)
	case runErr != nil:
		var exit *exec.ExitError
		if !errors.As(runErr, &exit) {
			return 0, fmt.Errorf("media: running ghostscript: %w", runErr)
		}
		return 0, invalid(ErrBadDocument, runErr, "PDF: Ghostscript cannot read it as a document with pages to fax (%s)", gsReason(stderr.Bytes()))
	}

	f, err := os.Open(out)
	if errors.Is(err, os.ErrNotExist) {
		// gs renders nothing, successfully, for a document of no pages.
		return 0, invalid(ErrBadDocument, nil, "PDF: has no pages")
	}
	if err != nil {
		return 0, fmt.Errorf("media: ghostscript output: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("media: ghostscript output: %w", err)
	}
	if st.Size() == 0 {
		return 0, invalid(ErrBadDocument, nil, "PDF: has no pages")
	}
	pages, err := CheckFaxTIFF(f, st.Size())
	if err != nil {
		// Our own device wrote it: not the client's fault.
		return 0, fmt.Errorf("media: ghostscript wrote no fax TIFF: %w", err)
	}
	if pages > g.maxPages {
		return 0, invalid(ErrBadDocument, nil, "PDF: more than %d pages", g.maxPages)
	}
	if _, err := io.Copy(dst, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return 0, fmt.Errorf("media: fax TIFF: %w", err)
	}
	return pages, nil
}

// gsReason is the first error line Ghostscript printed, short enough to
// show a client.
func gsReason(out []byte) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		line = strings.TrimSpace(strings.TrimLeft(line, " *"))
		if strings.HasPrefix(line, "Error") || strings.Contains(line, "rror:") {
			return truncate(line, 160)
		}
	}
	return "ghostscript failed"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// limitedBuffer keeps the first max bytes written and drops the rest, so
// that a chatty gs cannot fill memory.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte { return b.buf.Bytes() }
