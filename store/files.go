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
// <dir>/<h[0:2]>/<h>, so identical content is stored once and a file never
// changes once in place. Which files are still needed is the business of
// the rows that name them (see Messages); Files only writes, opens and
// removes.
type Files struct {
	dir string
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

func (f *Files) path(h string) string { return contentPath(f.dir, h) }

// contentPath is where the file of content hash h lives under dir: a
// directory per first two hex digits keeps directories small.
func contentPath(dir, h string) string { return filepath.Join(dir, h[:2], h) }

// Open opens the file with content hash h for reading.
func (f *Files) Open(h string) (*os.File, error) {
	if !validHash(h) {
		return nil, dialer.NotFound("file")
	}
	file, err := os.Open(f.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, dialer.NotFound("file")
	}
	if err != nil {
		return nil, fmt.Errorf("store: open media file: %w", err)
	}
	return file, nil
}

// exists reports whether a file with hash h is in place.
func (f *Files) exists(h string) bool {
	if !validHash(h) {
		return false
	}
	_, err := os.Stat(f.path(h))
	return err == nil
}

// remove deletes the file with hash h; a missing file is not an error.
func (f *Files) remove(h string) error {
	if !validHash(h) {
		return nil
	}
	err := os.Remove(f.path(h))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: remove media file: %w", err)
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

// keep makes the file durable and moves it to its place by hash, returning
// the hash. When a file with the same content is already there, the copy is
// dropped and the one in place is used.
func (f *Files) keep(t *tempFile) (string, error) {
	defer t.discard()
	h := t.sum()
	if f.exists(h) {
		return h, nil
	}
	if err := t.f.Sync(); err != nil {
		return "", fmt.Errorf("store: sync upload file: %w", err)
	}
	if err := t.f.Chmod(0o640); err != nil {
		return "", fmt.Errorf("store: upload file mode: %w", err)
	}
	shard := filepath.Join(f.dir, h[:2])
	if _, err := os.Stat(shard); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(shard, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("store: media directory: %w", err)
		}
		if err := syncDir(f.dir); err != nil {
			return "", err
		}
	}
	if err := os.Rename(t.f.Name(), f.path(h)); err != nil {
		return "", fmt.Errorf("store: place media file: %w", err)
	}
	if err := syncDir(shard); err != nil {
		return "", err
	}
	return h, nil
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

// hashes lists every file in place, for the orphan sweep.
func (f *Files) hashes() ([]string, error) {
	var out []string
	shards, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("store: list media: %w", err)
	}
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(f.dir, s.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: list media: %w", err)
		}
		for _, e := range entries {
			if validHash(e.Name()) && strings.HasPrefix(e.Name(), s.Name()) {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}
