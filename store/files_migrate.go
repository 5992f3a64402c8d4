package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FileMigration counts what MigrateFiles did.
type FileMigration struct {
	Linked  int // names given to files
	Removed int // old names without extension removed
	Missing int // files rows name that are on disk under no name
}

// namedFiles lists each file a row names, with the extension its role and
// type give it (see Files). A tif document's upload is its fax file too.
const namedFiles = `SELECT file_hash, type FROM documents WHERE file_hash != ''
	UNION SELECT file_hash, type FROM recordings WHERE file_hash != ''
	UNION SELECT telephony_hash, 'wav' FROM recordings WHERE telephony_hash != ''
	UNION SELECT file_hash, 'bin' FROM templates WHERE file_hash != ''`

// MigrateFiles renames the media files of a dialerd from before
// extensions, <dir>/xx/<hash>, to <dir>/xx/<hash>.<ext> with the extension
// each row that names them says. Run it at start, before serving.
//
// It is safe to kill at any point and run again: every new name is first
// made a hard link to the old file (atomic; the file then has both names)
// and made durable, and only when every file has all its new names are the
// old names removed. A run over migrated files does nothing.
func (m *Messages) MigrateFiles(ctx context.Context) (FileMigration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var res FileMigration
	type name struct{ hash, ext string }
	var names []name
	rows, err := m.db.r.QueryContext(ctx, namedFiles)
	if err != nil {
		return res, fmt.Errorf("store: media files to migrate: %w", err)
	}
	for rows.Next() {
		var n name
		if err := rows.Scan(&n.hash, &n.ext); err != nil {
			rows.Close()
			return res, fmt.Errorf("store: media files to migrate: %w", err)
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return res, fmt.Errorf("store: media files to migrate: %w", err)
	}

	touched := map[string]bool{}
	for _, n := range names {
		if !validHash(n.hash) || !validExt(n.ext) || m.files.exists(n.hash, n.ext) {
			continue
		}
		err := os.Link(m.files.path(n.hash, ""), m.files.path(n.hash, n.ext))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			res.Missing++
			continue
		case err != nil && !errors.Is(err, fs.ErrExist):
			return res, fmt.Errorf("store: migrate media file: %w", err)
		}
		res.Linked++
		touched[n.hash[:2]] = true
	}
	for shard := range touched {
		if err := syncDir(filepath.Join(m.files.dir, shard)); err != nil {
			return res, err
		}
	}

	// Every named file now has its new names: the old ones can go, and an
	// old name no row gives a new one is an orphan anyway.
	legacy, err := m.files.legacyNames()
	if err != nil {
		return res, err
	}
	touched = map[string]bool{}
	for _, h := range legacy {
		if err := os.Remove(m.files.path(h, "")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("store: migrate media file: %w", err)
		}
		res.Removed++
		touched[h[:2]] = true
	}
	for shard := range touched {
		if err := syncDir(filepath.Join(m.files.dir, shard)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// legacyNames lists the hashes of the files named without an extension.
func (f *Files) legacyNames() ([]string, error) {
	var out []string
	err := f.eachEntry(func(_ string, e os.DirEntry) {
		if validHash(e.Name()) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	})
	return out, err
}

// faxConverter renders a PDF as a fax TIFF (see media.Ghostscript).
type faxConverter interface {
	PDFToFax(ctx context.Context, src io.Reader, dst io.Writer) (pages int, err error)
}

// ConvertDocuments writes the fax TIFF of every PDF document that has none:
// those uploaded before dialerd converted PDFs at upload. Run it at start;
// until it has run, such documents have no fax file (ProgramMedia gives no
// DocumentPath). It returns how many files it converted; a document that
// cannot be converted is reported in err, joined with the others, and left
// as it is.
func (m *Messages) ConvertDocuments(ctx context.Context, conv faxConverter) (int, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT DISTINCT file_hash FROM documents WHERE type = 'pdf' AND file_hash != ''`)
	if err != nil {
		return 0, fmt.Errorf("store: PDF documents: %w", err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: PDF documents: %w", err)
		}
		hashes = append(hashes, h)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return 0, fmt.Errorf("store: PDF documents: %w", err)
	}
	converted := 0
	var failed []error
	for _, h := range hashes {
		if !validHash(h) || m.files.exists(h, ExtTIFF) {
			continue
		}
		if err := m.convertDocument(ctx, conv, h); err != nil {
			if ctx.Err() != nil {
				return converted, ctx.Err()
			}
			failed = append(failed, fmt.Errorf("PDF %s: %w", h, err))
			continue
		}
		converted++
	}
	return converted, errors.Join(failed...)
}

// convertDocument writes the fax TIFF of the PDF of hash h beside it and
// sets the page count of the documents naming it from the TIFF.
func (m *Messages) convertDocument(ctx context.Context, conv faxConverter, h string) error {
	src, err := m.files.Open(h, ExtPDF)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("store: PDF document: %w", err)
	}
	fax, err := m.files.create(faxLimit(st.Size()))
	if err != nil {
		return err
	}
	defer fax.discard()
	pages, err := conv.PDFToFax(ctx, src, fax)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The documents may have changed or gone while it converted; under mu
	// no file can be collected, so place it only while a row names the PDF.
	var named bool
	if err := m.db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE file_hash = ? AND type = 'pdf')`, h).Scan(&named); err != nil {
		return fmt.Errorf("store: PDF document: %w", err)
	}
	if !named {
		return nil
	}
	if err := m.files.keepAs(fax, h, ExtTIFF); err != nil {
		return err
	}
	return m.db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE documents SET pages = ? WHERE file_hash = ? AND type = 'pdf'`, pages, h)
		if err != nil {
			return fmt.Errorf("store: PDF document pages: %w", err)
		}
		return nil
	})
}
