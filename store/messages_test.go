package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestConcurrentUploadsNeverDangle races uploads of shared content against
// deletes: at the end every row's file is on disk and no file is unnamed.
func TestConcurrentUploadsNeverDangle(t *testing.T) {
	m, tenant, admin := messagesEnv(t)
	ctx := context.Background()
	contents := []string{"%PDF-a", "%PDF-b", "%PDF-c"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 6 {
		wg.Go(func() {
			for i := range 15 {
				id, err := m.CreateDocument(ctx, dialer.Document{TenantID: tenant, CreatedBy: admin, Name: "d"})
				if err != nil {
					errs <- err
					return
				}
				body := strings.NewReader(contents[(w+i)%len(contents)])
				if err := m.SetDocumentFile(ctx, tenant, id, body, 100, acceptPDF); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := m.DeleteDocument(ctx, tenant, id); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	docs, err := m.Documents(ctx, dialer.Scope{TenantID: tenant}, dialer.ListQuery{Limit: dialer.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 6*7 {
		t.Fatalf("%d documents left, want %d", len(docs), 6*7)
	}
	named := map[string]bool{}
	for _, d := range docs {
		f, err := m.OpenFile(ctx, d.FileHash, ExtPDF)
		if err != nil {
			t.Fatalf("document %d names a missing file: %v", d.ID, err)
		}
		f.Close()
		named[d.FileHash] = true
	}
	if n, err := m.SweepFiles(ctx); n != 0 || err != nil {
		t.Fatalf("%d unnamed files left (%v)", n, err)
	}
	if len(named) != len(contents) {
		t.Fatalf("%d distinct files, want %d", len(named), len(contents))
	}
}

func TestDeleteMessageUsedByProgramIsRefused(t *testing.T) {
	m, tenant, admin := messagesEnv(t)
	ctx := context.Background()
	id, err := m.CreateText(ctx, dialer.Text{TenantID: tenant, CreatedBy: admin, Name: "t", Data: "hi", Type: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.db.w.ExecContext(ctx, `INSERT INTO programs (tenant_id, created_by, name, type, text_id, created_at, updated_at)
		VALUES (?, ?, 'p', 'sendsms', ?, 0, 0)`, tenant, admin, id); err != nil {
		t.Fatal(err)
	}
	err = m.DeleteText(ctx, tenant, id)
	if !errors.Is(err, dialer.ErrConflict) || !strings.Contains(err.Error(), "program 1") {
		t.Fatalf("delete of a used text: %v", err)
	}
	if _, err := m.Text(ctx, tenant, id); err != nil {
		t.Fatalf("the text is gone: %v", err)
	}
	if err := m.DeleteText(ctx, "other-tenant", id); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("delete from another tenant: %v", err)
	}
}

// BenchmarkSetDocumentFile measures storing a 1 MiB document: hashing,
// fsync, rename and the row's commit.
func BenchmarkSetDocumentFile(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir()+"/dialerd.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	db.Bootstrap(ctx, "admin", "x")
	tenant, _ := db.DefaultTenant(ctx)
	files, err := OpenFiles(b.TempDir() + "/media")
	if err != nil {
		b.Fatal(err)
	}
	m := NewMessages(db, files)
	id, err := m.CreateDocument(ctx, dialer.Document{TenantID: tenant.ID, CreatedBy: 1, Name: "d"})
	if err != nil {
		b.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	check := func(_ context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error) {
		_, err := fax.Write([]byte("II*\x00 fax"))
		return dialer.DocumentFile{Type: "pdf"}, err
	}
	b.SetBytes(int64(len(content)))
	for i := 0; b.Loop(); i++ {
		// A different file each time, so every round writes and removes one.
		copy(content, fmt.Sprintf("%16d", i))
		if err := m.SetDocumentFile(ctx, tenant.ID, id, bytes.NewReader(content), 2<<20, check); err != nil {
			b.Fatal(err)
		}
	}
}
