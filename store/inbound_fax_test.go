package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// bilevelTIFF is a one-page 16×16 uncompressed bilevel TIFF: what rxfax's
// file stands for in these tests.
func bilevelTIFF() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8+32)) // IFD after 32 bytes of pixels
	b.Write(bytes.Repeat([]byte{0xAA, 0x55}, 16))
	type entry struct {
		tag, typ uint16
		n, v     uint32
	}
	entries := []entry{
		{256, 3, 1, 16}, {257, 3, 1, 16}, {258, 3, 1, 1}, {259, 3, 1, 1}, {262, 3, 1, 0},
		{273, 4, 1, 8}, {277, 3, 1, 1}, {278, 3, 1, 16}, {279, 4, 1, 32},
	}
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, le, e)
	}
	binary.Write(&b, le, uint32(0))
	return b.Bytes()
}

func TestReceiveFax(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	files, err := OpenFiles(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := NewMessages(x.db, files)
	exec := func(q string, args ...any) int64 { return x.f.Exec(q, args...) }
	fax := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, email, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550100100', 'ops@example.com', 1, 0, 0)`, x.tenant, x.owner)
	exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'to mail', 'faxtoemail', ?, 0, 0)`, x.tenant, x.owner, fax)
	sms := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550100200', 1, 0, 0)`, x.tenant, x.owner)
	exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'sms', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, sms)

	if p, err := x.db.FaxDestination(ctx, "+15550100100"); err != nil || p != dialer.ProgramFaxToEmail {
		t.Errorf("FaxDestination = %q, %v", p, err)
	}
	if _, err := x.db.FaxDestination(ctx, "+15550100200"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("a DID that receives only SMS: %v, want not found", err)
	}
	tiff := filepath.Join(t.TempDir(), "rx.tif")
	if err := os.WriteFile(tiff, bilevelTIFF(), 0o600); err != nil {
		t.Fatal(err)
	}
	fakePDF := func(ctx context.Context, src io.Reader, dst io.Writer) error {
		_, err := dst.Write([]byte("%PDF-1.4 fake"))
		return err
	}
	at := time.Unix(1_800_000_000, 0)
	got, err := msgs.ReceiveFax(ctx, InboundFax{From: "+15550001111", To: "+15550100100", TIFFPath: tiff, Success: true,
		ResultText: "OK", Pages: 1, Start: at, End: at.Add(20 * time.Second)}, fakePDF)
	if err != nil {
		t.Fatal(err)
	}
	// A faxtoemail's fax: kept, and left to be mailed in the same write.
	if got.Status != "processing" || !got.MailPending || got.DocumentID == 0 || got.Program != dialer.ProgramFaxToEmail || got.Email != "ops@example.com" {
		t.Fatalf("received %+v", got)
	}
	if b, err := os.ReadFile(got.PDFPath); err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Errorf("PDF %q: %v", b, err)
	}
	d, err := msgs.Document(ctx, x.tenant, got.DocumentID)
	if err != nil || d.Type != "pdf" || d.Pages != 1 {
		t.Fatalf("document %+v, %v", d, err)
	}
	if f, err := msgs.OpenFile(ctx, d.FileHash, ExtTIFF); err != nil {
		t.Errorf("the fax copy beside the PDF: %v", err)
	} else {
		f.Close()
	}
	var status, spool, response string
	x.db.r.QueryRow(`SELECT t.status, s.status, s.response FROM transmissions t JOIN spools s USING (transmission_id)
		WHERE t.transmission_id = ? AND t.direction = 'inbound'`, got.TransmissionID).Scan(&status, &spool, &response)
	if status != "processing" || spool != "initiated" || response != "fax received; to be mailed to ops@example.com" {
		t.Errorf("transmission %s, spool %s / %s", status, spool, response)
	}
	if ids, err := x.db.DueFaxMails(ctx, time.Now(), time.Hour, 10); err != nil || len(ids) != 1 || ids[0] != got.TransmissionID {
		t.Errorf("faxes to mail %v, %v", ids, err)
	}

	// A failed fax: FAX_FAILED by the cause table, no document.
	failed, err := msgs.ReceiveFax(ctx, InboundFax{From: "+15550001111", To: "+15550100100", Success: false, ResultCode: 49,
		ResultText: "The call dropped prematurely", Start: at, End: at.Add(5 * time.Second)}, fakePDF)
	if err != nil || failed.Status != "failed" || failed.Cause != dialer.CauseFaxFailed || failed.DocumentID != 0 {
		t.Fatalf("failed fax: %+v, %v", failed, err)
	}
	var code string
	x.db.r.QueryRow(`SELECT r.data FROM spool_results r JOIN spools s USING (spool_id)
		WHERE s.transmission_id = ? AND r.name = 'result_code'`, failed.TransmissionID).Scan(&code)
	if code != "49" {
		t.Errorf("result code %q", code)
	}
	// A fax spandsp took that cannot be kept as PDF is recorded failed,
	// MEDIA_ERROR saying why: no fax vanishes with only a log line.
	badPDF := func(context.Context, io.Reader, io.Writer) error { return errors.New("tiff2pdf: not a TIFF") }
	bad, err := msgs.ReceiveFax(ctx, InboundFax{From: "+15550001111", To: "+15550100100", TIFFPath: tiff, Success: true,
		Pages: 1, Start: at, End: at}, badPDF)
	if err != nil || bad.Status != "failed" || bad.Cause != dialer.CauseMediaError || bad.DocumentID != 0 || bad.TransmissionID == 0 {
		t.Fatalf("unconvertible fax: %+v, %v", bad, err)
	}
	if _, err := msgs.ReceiveFax(ctx, InboundFax{To: "+15550100200", Success: true, TIFFPath: tiff}, fakePDF); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("a fax to a DID without a fax program: %v", err)
	}
}
