package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// Files keeps media files by content: a file whose SHA-256 is h lives at
// <dir>/<h[0:2]>/<h>.<ext>, so identical content is stored once and a file
// never changes once in place. The extension names the format for the
// tools that go by name rather than content: FreeSWITCH's playback picks
// its file format by the extension, and without one tries <path>.PCMU and
// <path>.wav, or takes whatever follows the last dot of the data
// directory's name. A file derived from another (the fax TIFF of a PDF) is
// kept beside it under the same hash with its own extension, so the
// extension, not the hash alone, names a file. Which files are still needed
// is the business of the rows that name them (see Messages); Files only
// writes, opens and removes.
type Files struct {
	dir string
}

// The extensions of media files: what a row's role and type say the file
// is. Nothing else is ever turned into a file name.
const (
	ExtWAV        = "wav" // recordings: the telephony WAV, or an upload in WAV
	ExtMP3        = "mp3" // recordings uploaded as MP3
	ExtPDF        = "pdf" // documents uploaded as PDF
	ExtTIFF       = "tif" // documents: the fax TIFF, or an upload in TIFF
	ExtAttachment = "bin" // template attachments, whatever their type says
)

func validExt(ext string) bool {
	switch ext {
	case ExtWAV, ExtMP3, ExtPDF, ExtTIFF, ExtAttachment:
		return true
	}
	return false
}

// tempPrefix names files being written. They sit in the media directory
// itself, on the same file system as their final place, so the rename that
// puts them there is atomic.
const tempPrefix = ".upload-"

// OpenFiles opens (creating if needed) the media directory and removes
// temporary files a crash left behind.
func OpenFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: media directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store: media directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("store: remove leftover upload: %w", err)
			}
		}
	}
	return &Files{dir: dir}, nil
}

// Dir is the media directory.
func (f *Files) Dir() string { return f.dir }

// validHash reports whether h is a lowercase hex SHA-256, the only thing
// ever turned into a path here.
func validHash(h string) bool {
	if len(h) != sha256.Size*2 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (f *Files) path(h, ext string) string { return contentPath(f.dir, h, ext) }

// contentPath is where the file of content hash h and extension ext lives
// under dir: a directory per first two hex digits keeps directories small.
// ext "" is the name files had before extensions.
func contentPath(dir, h, ext string) string {
	name := h
	if ext != "" {
		name += "." + ext
	}
	return filepath.Join(dir, h[:2], name)
}

// Open opens the file of content hash h with extension ext for reading.
func (f *Files) Open(h, ext string) (*os.File, error) {
	if !validHash(h) || !validExt(ext) {
		return nil, dialer.NotFound("file")
	}
	file, err := os.Open(f.path(h, ext))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, dialer.NotFound("file")
	}
	if err != nil {
		return nil, fmt.Errorf("store: open media file: %w", err)
	}
	return file, nil
}

// exists reports whether the file of hash h and extension ext is in place.
func (f *Files) exists(h, ext string) bool {
	if !validHash(h) {
		return false
	}
	_, err := os.Stat(f.path(h, ext))
	return err == nil
}

// fileExists reports whether path names a file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// remove deletes every file of hash h, under any extension (and the
// legacy name without one); missing files are not an error.
func (f *Files) remove(h string) error {
	if !validHash(h) {
		return nil
	}
	// "" is the name files had before extensions (see MigrateFiles).
	for _, ext := range []string{ExtWAV, ExtMP3, ExtPDF, ExtTIFF, ExtAttachment, ""} {
		err := os.Remove(f.path(h, ext))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: remove media file: %w", err)
		}
	}
	return nil
}

// tempFile is a file being written: hashed as it is written, invisible to
// readers until keep moves it into place.
type tempFile struct {
	f     *os.File
	h     hash.Hash
	size  int64
	limit int64 // 0: no limit
}

// create starts a temporary file that accepts at most limit bytes (0: any).
func (f *Files) create(limit int64) (*tempFile, error) {
	file, err := os.CreateTemp(f.dir, tempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("store: create upload file: %w", err)
	}
	return &tempFile{f: file, h: sha256.New(), limit: limit}, nil
}

// Write writes p to the file and the hash; past the limit it fails with
// dialer.ErrFileTooLarge.
func (t *tempFile) Write(p []byte) (int, error) {
	if t.limit > 0 && t.size+int64(len(p)) > t.limit {
		return 0, fmt.Errorf("%w: more than %d bytes", dialer.ErrFileTooLarge, t.limit)
	}
	n, err := t.f.Write(p)
	t.h.Write(p[:n])
	t.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("store: write upload file: %w", err)
	}
	return n, nil
}

// reader reads the content written so far.
func (t *tempFile) reader() *io.SectionReader { return io.NewSectionReader(t.f, 0, t.size) }

func (t *tempFile) sum() string { return hex.EncodeToString(t.h.Sum(nil)) }

// discard removes the temporary file. It is safe after keep.
func (t *tempFile) discard() {
	if t.f == nil {
		return
	}
	name := t.f.Name()
	_ = t.f.Close()
	_ = os.Remove(name)
	t.f = nil
}

// keep makes the file durable and moves it to its place by hash with
// extension ext, returning the hash. When a file with the same content is
// already there, the copy is dropped and the one in place is used.
func (f *Files) keep(t *tempFile, ext string) (string, error) {
	h := t.sum()
	return h, f.keepAs(t, h, ext)
}

// keepAs makes the file durable and moves it to the name of hash h with
// extension ext: its own hash, or for a derived file (the fax TIFF of a
// PDF) the hash of what it is derived from. A file already there wins.
func (f *Files) keepAs(t *tempFile, h, ext string) error {
	defer t.discard()
	if !validHash(h) || !validExt(ext) {
		return fmt.Errorf("store: media file name %q.%q", h, ext)
	}
	if f.exists(h, ext) {
		return nil
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("store: sync upload file: %w", err)
	}
	if err := t.f.Chmod(0o640); err != nil {
		return fmt.Errorf("store: upload file mode: %w", err)
	}
	shard := filepath.Join(f.dir, h[:2])
	if _, err := os.Stat(shard); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(shard, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("store: media directory: %w", err)
		}
		if err := syncDir(f.dir); err != nil {
			return err
		}
	}
	if err := os.Rename(t.f.Name(), f.path(h, ext)); err != nil {
		return fmt.Errorf("store: place media file: %w", err)
	}
	return syncDir(shard)
}

// syncDir makes a rename or a new entry in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync media directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync media directory: %w", err)
	}
	return nil
}

// hashes lists the hash of every file in place, each once, for the orphan
// sweep.
func (f *Files) hashes() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	err := f.eachEntry(func(shard string, e os.DirEntry) {
		h, ext, _ := strings.Cut(e.Name(), ".")
		if validHash(h) && strings.HasPrefix(h, shard) && (ext == "" || validExt(ext)) && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	})
	return out, err
}

// eachEntry calls fn with every entry of every two-character shard
// directory, and its shard.
func (f *Files) eachEntry(fn func(shard string, e os.DirEntry)) error {
	shards, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("store: list media: %w", err)
	}
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(f.dir, s.Name()))
		if err != nil {
			return fmt.Errorf("store: list media: %w", err)
		}
		for _, e := range entries {
			fn(s.Name(), e)
		}
	}
	return nil
}
