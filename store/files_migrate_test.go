package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// mediaEnv is a store in dataDir laid out as dialerd lays it out: the
// database and media/ beside it, where EngineStore looks for media.
type mediaEnv struct {
	db     *DB
	m      *Messages
	engine *EngineStore
	tenant string
	media  string
}

func openMediaEnv(t *testing.T, dataDir string) *mediaEnv {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(dataDir, "dialerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DefaultTenant(ctx); err != nil {
		if _, err := db.Bootstrap(ctx, "admin", "x"); err != nil {
			t.Fatal(err)
		}
	}
	tenant, err := db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := OpenFiles(filepath.Join(dataDir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	e := &mediaEnv{db: db, m: NewMessages(db, files), engine: NewEngineStore(db), tenant: tenant.ID, media: files.Dir()}
	t.Cleanup(func() {
		e.engine.Close()
		db.Close()
	})
	return e
}

// program adds a program of typ that sends the message col = id.
func (e *mediaEnv) program(t *testing.T, typ, col string, id int64) int64 {
	t.Helper()
	res, err := e.db.w.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, `+col+`, created_at, updated_at)
		VALUES (?, 1, 'p', ?, ?, 0, 0)`, e.tenant, typ, id)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := res.LastInsertId()
	return pid
}

func (e *mediaEnv) programMedia(t *testing.T, programID int64) dialer.Media {
	t.Helper()
	_, m, err := e.engine.ProgramMedia(context.Background(), e.tenant, programID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mp3Recording stores a recording uploaded as "MP3" with its telephony WAV.
func (e *mediaEnv) mp3Recording(t *testing.T, body string) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := e.m.CreateRecording(ctx, dialer.Recording{TenantID: e.tenant, CreatedBy: 1, Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	convert := func(src *io.SectionReader, tel io.Writer) (dialer.RecordingFile, error) {
		_, err := io.WriteString(tel, "RIFF telephony of "+body)
		return dialer.RecordingFile{Type: "mp3", Length: 1}, err
	}
	if err := e.m.SetRecordingFile(ctx, e.tenant, id, strings.NewReader(body), 1000, convert); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *mediaEnv) pdfDocument(t *testing.T, body string) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := e.m.CreateDocument(ctx, dialer.Document{TenantID: e.tenant, CreatedBy: 1, Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetDocumentFile(ctx, e.tenant, id, strings.NewReader(body), 1000, acceptPDF); err != nil {
		t.Fatal(err)
	}
	return id
}

// Before: ProgramMedia handed out <data_dir>/media/xx/<sha256>, with no
// extension, which FreeSWITCH cannot play (it tries <path>.PCMU and
// <path>.wav), and under a data_dir with a dot it read a wrong extension.
// After: <sha256>.wav, and the fax TIFF <sha256>.tif for a document.
func TestProgramMediaPathsCarryTheirExtension(t *testing.T) {
	e := openMediaEnv(t, filepath.Join(t.TempDir(), "var.d", "x.y"))
	ctx := context.Background()
	rec := e.mp3Recording(t, "ID3 an mp3")
	voice := e.program(t, "voicemessage", "recording_id", rec)
	doc := e.pdfDocument(t, "%PDF-1.4 a letter")
	fax := e.program(t, "sendfax", "document_id", doc)

	r, _ := e.m.Recording(ctx, e.tenant, rec)
	p := e.programMedia(t, voice).RecordingPath
	if want := filepath.Join(e.media, r.TelephonyHash[:2], r.TelephonyHash+".wav"); p != want {
		t.Fatalf("RecordingPath %q, want %q", p, want)
	}
	if b, err := os.ReadFile(p); err != nil || !strings.HasPrefix(string(b), "RIFF") {
		t.Fatalf("the recording's path reads %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(e.media, r.FileHash[:2], r.FileHash+".mp3")); err != nil {
		t.Fatalf("the upload is not kept as .mp3: %v", err)
	}

	d, _ := e.m.Document(ctx, e.tenant, doc)
	p = e.programMedia(t, fax).DocumentPath
	if want := filepath.Join(e.media, d.FileHash[:2], d.FileHash+".tif"); p != want {
		t.Fatalf("DocumentPath %q, want %q", p, want)
	}
	if b, _ := os.ReadFile(p); !strings.HasPrefix(string(b), "fax of ") {
		t.Fatalf("DocumentPath is not the fax copy: %q", b)
	}
	if b, _ := os.ReadFile(strings.TrimSuffix(p, ".tif") + ".pdf"); string(b) != "%PDF-1.4 a letter" {
		t.Fatalf("the PDF is not kept beside its fax copy: %q", b)
	}

	// A PDF without its fax copy (before it is converted) has no path, not
	// one txfax cannot open.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if p := e.programMedia(t, fax).DocumentPath; p != "" {
		t.Fatalf("DocumentPath of an unconverted PDF = %q, want none", p)
	}
}

// legacy renames every file of the media directory to its name of before
// extensions, as an older dialerd left it, and removes fax copies, which
// it did not make.
func legacy(t *testing.T, media string) {
	t.Helper()
	for _, rel := range entries(t, media) {
		p := filepath.Join(media, rel)
		if strings.HasSuffix(p, ".tif") && fileExists(strings.TrimSuffix(p, ".tif")+".pdf") {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rel := range entries(t, media) {
		p := filepath.Join(media, rel)
		hash, _, _ := strings.Cut(filepath.Base(p), ".")
		if err := os.Rename(p, filepath.Join(filepath.Dir(p), hash)); err != nil {
			t.Fatal(err)
		}
	}
}

// Before: there was no migration; files stayed <sha256> and were handed to
// FreeSWITCH as such. After: MigrateFiles gives every file its extension,
// also when killed half-way and run again, and a second run does nothing.
func TestMigrateFilesUpgradesADataDir(t *testing.T) {
	for _, dirName := range []string{"var", filepath.Join("var.d", "x.y")} {
		t.Run(dirName, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), dirName)
			e := openMediaEnv(t, dataDir)
			ctx := context.Background()
			rec := e.mp3Recording(t, "ID3 one")
			voice := e.program(t, "voicemessage", "recording_id", rec)
			e.pdfDocument(t, "%PDF-1.4 one")
			tplID, err := e.m.CreateTemplate(ctx, dialer.Template{TenantID: e.tenant, CreatedBy: 1, Name: "t", Type: "plain"})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.m.SetTemplateFile(ctx, e.tenant, tplID, strings.NewReader("an attachment"), 100,
				func(*io.SectionReader) (string, error) { return "txt", nil }); err != nil {
				t.Fatal(err)
			}
			want := entries(t, e.media)
			legacy(t, e.media)
			// An orphan of the old layout: no row names it.
			orphan := strings.Repeat("ab", 32)
			os.MkdirAll(filepath.Join(e.media, "ab"), 0o750)
			os.WriteFile(filepath.Join(e.media, "ab", orphan), []byte("orphan"), 0o640)
			if p := e.programMedia(t, voice).RecordingPath; fileExists(p) {
				t.Fatalf("the old layout already has %s", p)
			}

			// Killed half-way: one file linked and its old name still there.
			r, _ := e.m.Recording(ctx, e.tenant, rec)
			old := filepath.Join(e.media, r.TelephonyHash[:2], r.TelephonyHash)
			if err := os.Link(old, old+".wav"); err != nil {
				t.Fatal(err)
			}

			got, err := e.m.MigrateFiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// mp3, wav (one was linked already), bin; removed: all four old names and the orphan.
			if got != (FileMigration{Linked: 3, Removed: 5}) {
				t.Fatalf("MigrateFiles = %+v", got)
			}
			wantNoPDFTIFF := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return strings.HasSuffix(s, ".tif") })
			if after := entries(t, e.media); !slices.Equal(after, wantNoPDFTIFF) {
				t.Fatalf("after migrating: %v, want %v", after, wantNoPDFTIFF)
			}
			p := e.programMedia(t, voice).RecordingPath
			if !strings.HasSuffix(p, ".wav") || !fileExists(p) {
				t.Fatalf("RecordingPath after migrating: %q", p)
			}

			again, err := e.m.MigrateFiles(ctx)
			if err != nil || again != (FileMigration{}) {
				t.Fatalf("second run: %+v, %v; want nothing done", again, err)
			}
			// The old files are served under their new names.
			tpl, _ := e.m.Template(ctx, e.tenant, tplID)
			f, err := e.m.OpenFile(ctx, tpl.FileHash, ExtAttachment)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f)
			f.Close()
			if string(b) != "an attachment" {
				t.Fatalf("attachment reads %q", b)
			}
		})
	}
}

// A row naming a file that is on disk under no name is counted, not fatal.
func TestMigrateFilesCountsMissing(t *testing.T) {
	e := openMediaEnv(t, t.TempDir())
	ctx := context.Background()
	e.pdfDocument(t, "%PDF-1.4 gone")
	for _, rel := range entries(t, e.media) {
		os.Remove(filepath.Join(e.media, rel))
	}
	got, err := e.m.MigrateFiles(ctx)
	if err != nil || got != (FileMigration{Missing: 1}) {
		t.Fatalf("MigrateFiles = %+v, %v; want one missing", got, err)
	}
}

// fakeFax converts like Ghostscript would, counting its calls.
type fakeFax struct {
	calls int
	fail  error
}

func (f *fakeFax) PDFToFax(_ context.Context, src io.Reader, dst io.Writer) (int, error) {
	f.calls++
	if f.fail != nil {
		return 0, f.fail
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return 0, err
	}
	_, err = dst.Write(append([]byte("fax of "), b...))
	return 7, err
}

// Before: a PDF stored before conversion existed was handed to txfax as it
// was (result 41, TIFF/F file cannot be opened). After: ConvertDocuments,
// run at start, writes its fax copy beside it and sets its pages; a PDF it
// cannot convert is reported and stays without a fax path.
func TestConvertDocumentsAtStart(t *testing.T) {
	e := openMediaEnv(t, t.TempDir())
	ctx := context.Background()
	ok := e.pdfDocument(t, "%PDF-1.4 old letter")
	bad := e.pdfDocument(t, "%PDF-1.4 broken")
	okProg := e.program(t, "sendfax", "document_id", ok)
	badProg := e.program(t, "sendfax", "document_id", bad)
	legacy(t, e.media)
	if _, err := e.m.MigrateFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if e.programMedia(t, okProg).DocumentPath != "" {
		t.Fatal("an old PDF has a fax path before conversion")
	}

	conv := &fakeFax{}
	calls := 0
	badDoc, _ := e.m.Document(ctx, e.tenant, bad)
	failing := faxConverterFunc(func(ctx context.Context, src io.Reader, dst io.Writer) (int, error) {
		calls++
		b, _ := io.ReadAll(src)
		if strings.Contains(string(b), "broken") {
			return 0, dialer.InvalidField("file", "PDF: has no pages")
		}
		return conv.PDFToFax(ctx, bytes.NewReader(b), dst)
	})
	n, err := e.m.ConvertDocuments(ctx, failing)
	if n != 1 || err == nil || !strings.Contains(err.Error(), badDoc.FileHash) {
		t.Fatalf("ConvertDocuments = %d, %v; want 1 converted and the broken one reported", n, err)
	}
	p := e.programMedia(t, okProg).DocumentPath
	if b, _ := os.ReadFile(p); string(b) != "fax of %PDF-1.4 old letter" {
		t.Fatalf("fax copy at %q reads %q", p, b)
	}
	if d, _ := e.m.Document(ctx, e.tenant, ok); d.Pages != 7 {
		t.Fatalf("pages %d, want 7 from the conversion", d.Pages)
	}
	if p := e.programMedia(t, badProg).DocumentPath; p != "" {
		t.Fatalf("the unconvertible PDF has a fax path %q", p)
	}
	// Converted files are not converted again; the broken one is retried.
	calls = 0
	if n, _ := e.m.ConvertDocuments(ctx, failing); n != 0 || calls != 1 {
		t.Fatalf("second run converted %d with %d calls; want only the broken one tried", n, calls)
	}
	if _, err := e.m.ConvertDocuments(ctx, &fakeFax{fail: errors.New("boom")}); err == nil {
		t.Fatal("a failing converter is not reported")
	}
}

type faxConverterFunc func(ctx context.Context, src io.Reader, dst io.Writer) (int, error)

func (f faxConverterFunc) PDFToFax(ctx context.Context, src io.Reader, dst io.Writer) (int, error) {
	return f(ctx, src, dst)
}
