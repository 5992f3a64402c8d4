package store

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// TestFaxMailLifecycle: a received faxtoemail fax waits in fax_mails; a
// claim takes it for one try and keeps every other claim off until it is
// recorded or its lease lapses; a deferred try keeps the transmission
// processing (spool initiated) with its response and next due time and
// the try's results; the engine's recovery leaves it alone; the last try
// ends the transmission and the wait; a claim a killed run left is freed
// at boot.
func TestFaxMailLifecycle(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	files, err := OpenFiles(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := NewMessages(x.db, files)
	acct := x.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, email, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550100100', 'ops@example.com', 1, 0, 0)`, x.tenant, x.owner)
	x.f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'to mail', 'faxtoemail', ?, 0, 0)`, x.tenant, x.owner, acct)
	tiff := filepath.Join(t.TempDir(), "rx.tif")
	if err := os.WriteFile(tiff, bilevelTIFF(), 0o600); err != nil {
		t.Fatal(err)
	}
	fakePDF := func(_ context.Context, _ io.Reader, dst io.Writer) error {
		_, err := dst.Write([]byte("%PDF-1.4 fake"))
		return err
	}
	got, err := msgs.ReceiveFax(ctx, InboundFax{From: "+15550001111", To: "+15550100100", TIFFPath: tiff, Success: true,
		Pages: 2, CallUUID: "call-1", Start: time.Now(), End: time.Now()}, fakePDF)
	if err != nil || !got.MailPending {
		t.Fatalf("received %+v, %v", got, err)
	}
	id := got.TransmissionID
	now := time.Now().Add(time.Second)
	const lease = time.Hour

	job, ok, err := msgs.ClaimFaxMail(ctx, id, now, lease)
	if err != nil || !ok || job.Email != "ops@example.com" || job.PDFPath != got.PDFPath || job.Pages != 2 || job.CallUUID != "call-1" ||
		job.From != "+15550001111" || job.DID != "+15550100100" || job.Tries != 0 || job.TenantID != x.tenant {
		t.Fatalf("claim %+v %v %v", job, ok, err)
	}
	if _, ok, _ := msgs.ClaimFaxMail(ctx, id, now, lease); ok {
		t.Fatal("a held claim was claimed again")
	}
	if ids, _ := x.db.DueFaxMails(ctx, now, lease, 10); len(ids) != 0 {
		t.Errorf("a held mail is listed due: %v", ids)
	}
	// The engine's recovery does not take the mail's spool for a call.
	es := NewEngineStore(x.db)
	defer es.Close()
	if open, err := es.OpenSpools(ctx); err != nil || len(open) != 0 {
		t.Errorf("open spools %v, %v", open, err)
	}
	if n, err := es.RequeueOrphans(ctx, now); err != nil || n != 0 {
		t.Errorf("requeued %d, %v", n, err)
	}

	next := now.Add(time.Minute)
	if err := x.db.DeferFaxMail(ctx, job, next, "451 4.3.0 busy", "mail deferred: 451 4.3.0 busy; next try at X",
		[]dialer.Result{{Type: "smtp", Name: "reply", Data: "451 4.3.0 busy"}}); err != nil {
		t.Fatal(err)
	}
	if err := x.db.DeferFaxMail(ctx, job, next, "", "", nil); !errors.Is(err, ErrFaxMailClaimLost) {
		t.Errorf("a released claim recorded again: %v", err)
	}
	tr, err := x.db.Transmission(ctx, x.tenant, id)
	if err != nil || tr.Status != dialer.TransmissionProcessing || tr.Response != "mail deferred: 451 4.3.0 busy; next try at X" ||
		tr.DueAt != next.Unix() {
		t.Errorf("deferred transmission %+v, %v", tr, err)
	}
	if _, ok, _ := msgs.ClaimFaxMail(ctx, id, now, lease); ok {
		t.Error("claimed before it was due")
	}
	if d, _ := x.db.NextFaxMail(ctx); d.UnixMilli() != next.UnixMilli() {
		t.Errorf("next due %v, want %v", d, next)
	}

	// A run killed mid-try leaves its claim; the next run frees it.
	dead, ok, _ := msgs.ClaimFaxMail(ctx, id, next, lease)
	if !ok || dead.Tries != 1 || dead.LastError != "451 4.3.0 busy" {
		t.Fatalf("claim after the defer %+v %v", dead, ok)
	}
	if n, err := x.db.RecoverFaxMails(ctx); err != nil || n != 1 {
		t.Errorf("recovered %d, %v", n, err)
	}
	if err := x.db.FinishFaxMail(ctx, dead, "completed", "NORMAL_CLEARING", nil); !errors.Is(err, ErrFaxMailClaimLost) {
		t.Errorf("the dead run's claim recorded: %v", err)
	}
	// A claim also lapses with its lease.
	held, ok, _ := msgs.ClaimFaxMail(ctx, id, next, lease)
	if !ok {
		t.Fatal("not claimable after recovery")
	}
	last, ok, _ := msgs.ClaimFaxMail(ctx, id, next.Add(lease), lease)
	if !ok {
		t.Fatal("a claim older than its lease still held")
	}
	if err := x.db.FinishFaxMail(ctx, held, "completed", "NORMAL_CLEARING", nil); !errors.Is(err, ErrFaxMailClaimLost) {
		t.Errorf("a lapsed claim recorded: %v", err)
	}
	if err := x.db.FinishFaxMail(ctx, last, "completed", "NORMAL_CLEARING",
		[]dialer.Result{{Type: "smtp", Name: "reply", Data: "250 ok"}}); err != nil {
		t.Fatal(err)
	}
	var status, spool string
	var results int
	x.db.r.QueryRow(`SELECT t.status, s.status, (SELECT COUNT(*) FROM spool_results r WHERE r.spool_id = s.spool_id AND r.name = 'reply')
		FROM transmissions t JOIN spools s USING (transmission_id) WHERE t.transmission_id = ?`, id).Scan(&status, &spool, &results)
	if status != "completed" || spool != "completed" || results != 2 {
		t.Errorf("finished: %s / %s, %d replies", status, spool, results)
	}
	if d, _ := x.db.NextFaxMail(ctx); !d.IsZero() {
		t.Errorf("a finished mail still waits: %v", d)
	}
}
