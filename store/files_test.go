package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func openTestFiles(t *testing.T) *Files {
	t.Helper()
	f, err := OpenFiles(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// entries lists every file under dir, relative, for before/after comparisons.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keepBytes(t *testing.T, f *Files, content []byte) string {
	t.Helper()
	tmp, err := f.create(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(content); err != nil {
		t.Fatal(err)
	}
	h, err := f.keep(tmp, ExtPDF)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFilesKeepByContentHash(t *testing.T) {
	f := openTestFiles(t)
	content := []byte("%PDF-1.4 some document")
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])

	h := keepBytes(t, f, content)
	if h != want {
		t.Fatalf("hash %s, want %s", h, want)
	}
	got, err := os.ReadFile(filepath.Join(f.Dir(), want[:2], want+".pdf"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("file in place = %q, %v", got, err)
	}
	if h2 := keepBytes(t, f, content); h2 != h {
		t.Fatalf("same content gave hash %s then %s", h, h2)
	}
	if got := entries(t, f.Dir()); len(got) != 1 {
		t.Fatalf("identical content stored as %v, want one file and no temporary ones", got)
	}
	file, err := f.Open(h, ExtPDF)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	read, _ := io.ReadAll(file)
	if !bytes.Equal(read, content) {
		t.Fatalf("Open read %q", read)
	}
}

func TestFilesLimit(t *testing.T) {
	f := openTestFiles(t)
	tmp, err := f.create(10)
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.discard()
	if _, err := io.Copy(tmp, strings.NewReader("0123456789")); err != nil {
		t.Fatalf("exactly the limit refused: %v", err)
	}
	if _, err := tmp.Write([]byte("x")); !errors.Is(err, dialer.ErrFileTooLarge) {
		t.Fatalf("one byte over the limit: %v, want ErrFileTooLarge", err)
	}
	tmp.discard()
	if got := entries(t, f.Dir()); len(got) != 0 {
		t.Fatalf("discard left %v", got)
	}
}

func TestFilesOpenRefusesNonHashes(t *testing.T) {
	f := openTestFiles(t)
	for _, name := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		if _, err := f.Open(name, ExtPDF); !errors.Is(err, dialer.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want not found", name, err)
		}
	}
	h := keepBytes(t, f, []byte("%PDF-x"))
	for _, ext := range []string{"", "exe", "pdf/../x", ExtTIFF} {
		if _, err := f.Open(h, ext); !errors.Is(err, dialer.ErrNotFound) {
			t.Errorf("Open(h, %q) = %v, want not found", ext, err)
		}
	}
}

func TestOpenFilesRemovesLeftoverUploads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	f, err := OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	kept := keepBytes(t, f, []byte("keep me"))
	tmp, err := f.create(0)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write([]byte("half an upload when the power went"))
	// A crash: the temporary file is never discarded.
	if _, err := OpenFiles(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(kept[:2], kept+".pdf")}
	if got := entries(t, dir); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("after reopening: %v, want %v", got, want)
	}
}

// messagesEnv is a store with a tenant, its admin, and a media directory.
func messagesEnv(t *testing.T) (*Messages, string, int64) {
	t.Helper()
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.Bootstrap(ctx, "admin", "x"); err != nil {
		t.Fatal(err)
	}
	tenant, err := db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return NewMessages(db, openTestFiles(t)), tenant.ID, 1
}

// acceptPDF takes any upload for a one-page PDF and writes a stand-in for
// its fax copy.
func acceptPDF(_ context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error) {
	if _, err := io.Copy(fax, io.MultiReader(strings.NewReader("fax of "), src)); err != nil {
		return dialer.DocumentFile{}, err
	}
	return dialer.DocumentFile{Type: "pdf", Pages: 1}, nil
}

func TestSetDocumentFileFailureKeepsOld(t *testing.T) {
	m, tenant, admin := messagesEnv(t)
	ctx := context.Background()
	id, err := m.CreateDocument(ctx, dialer.Document{TenantID: tenant, CreatedBy: admin, Name: "fax"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetDocumentFile(ctx, tenant, id, strings.NewReader("%PDF-old"), 100, acceptPDF); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Document(ctx, tenant, id)
	filesBefore := entries(t, m.files.Dir())

	rejected := dialer.InvalidField("file", "not a document")
	for name, tc := range map[string]struct {
		body  string
		check func(context.Context, *io.SectionReader, io.Writer) (dialer.DocumentFile, error)
		want  error
	}{
		"check refuses": {"garbage", func(context.Context, *io.SectionReader, io.Writer) (dialer.DocumentFile, error) {
			return dialer.DocumentFile{}, rejected
		}, dialer.ErrInvalid},
		"too large": {strings.Repeat("x", 101), acceptPDF, dialer.ErrFileTooLarge},
	} {
		err := m.SetDocumentFile(ctx, tenant, id, strings.NewReader(tc.body), 100, tc.check)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		after, _ := m.Document(ctx, tenant, id)
		if after != before {
			t.Errorf("%s: row changed from %+v to %+v", name, before, after)
		}
		if got := entries(t, m.files.Dir()); strings.Join(got, ",") != strings.Join(filesBefore, ",") {
			t.Errorf("%s: files changed from %v to %v", name, filesBefore, got)
		}
	}

	// The row vanished between the check and the commit: the new file goes too.
	if err := m.DeleteDocument(ctx, tenant, id); err != nil {
		t.Fatal(err)
	}
	err = m.SetDocumentFile(ctx, tenant, id, strings.NewReader("%PDF-new"), 100, acceptPDF)
	if !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("upload to a deleted document: %v", err)
	}
	if got := entries(t, m.files.Dir()); len(got) != 0 {
		t.Fatalf("files left after deleting the only document: %v", got)
	}
}

func TestSweepFilesRemovesOnlyOrphans(t *testing.T) {
	m, tenant, admin := messagesEnv(t)
	ctx := context.Background()
	id, err := m.CreateDocument(ctx, dialer.Document{TenantID: tenant, CreatedBy: admin, Name: "fax"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetDocumentFile(ctx, tenant, id, strings.NewReader("%PDF-named"), 100, acceptPDF); err != nil {
		t.Fatal(err)
	}
	// A crash after the file was placed and before its row was committed.
	orphan := keepBytes(t, m.files, []byte("%PDF-orphan"))
	n, err := m.SweepFiles(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepFiles = %d, %v; want 1 removed", n, err)
	}
	if m.files.exists(orphan, ExtPDF) {
		t.Fatal("the orphan is still there")
	}
	d, _ := m.Document(ctx, tenant, id)
	if !m.files.exists(d.FileHash, ExtPDF) || !m.files.exists(d.FileHash, ExtTIFF) {
		t.Fatal("the sweep removed a named file")
	}
}
