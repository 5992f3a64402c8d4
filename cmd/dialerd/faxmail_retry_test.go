package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/mail/mailtest"
	"github.com/dialerd/dialerd/store"
)

// testClock is the fax mail queue's clock in these tests: it moves only
// when the test says, so that hours of retries take no time.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingMailer counts the tries that reach the mailer.
type countingMailer struct {
	next FaxMailer
	n    atomic.Int32
}

func (m *countingMailer) MailFax(ctx context.Context, f FaxMail) (dialer.Outcome, error) {
	m.n.Add(1)
	return m.next.MailFax(ctx, f)
}

// faxMailRig is a store with a DID account receiving faxtoemail, email
// providers on the given ports of loopback (in weight order), and the
// daemon's fax inbox and mail queue over them, mailing with the real email
// gateway (mail.Out).
type faxMailRig struct {
	t        *testing.T
	path     string
	key      []byte
	files    string
	db       *store.DB
	messages *store.Messages
	tenant   string
	cfg      Config
	clock    *testClock
	mailer   *countingMailer
	q        *faxMailQueue
	in       *faxInbox
}

func newFaxMailRig(t *testing.T, email string, maxAge time.Duration, ports ...int) *faxMailRig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r := &faxMailRig{t: t, path: filepath.Join(dir, "dialerd.db"), key: make([]byte, store.SealKeySize), files: filepath.Join(dir, "media")}
	rand.Read(r.key)
	r.open()
	if _, err := r.db.Bootstrap(ctx, "admin", "unused-hash"); err != nil {
		t.Fatal(err)
	}
	tenant, err := r.db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.tenant = tenant.ID
	for i, port := range ports {
		if _, err := r.db.CreateProvider(ctx, dialer.Provider{TenantID: r.tenant, CreatedBy: 1, Name: "mail" + string(rune('a'+i)),
			GatewayFlag: dialer.GatewaySendmail, ServiceFlag: dialer.ServiceEmail, Host: "127.0.0.1", Port: port, Weight: i,
			Settings: `{"tls": "none", "from": "fax@example.com"}`, Active: 1}, ""); err != nil {
			t.Fatal(err)
		}
	}
	acct, err := r.db.CreateAccount(ctx, dialer.Account{TenantID: r.tenant, CreatedBy: 1, Type: "did", Phone: "+15550100100",
		Email: email, Active: 1}, dialer.AccountSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.CreateProgram(ctx, dialer.Scope{TenantID: r.tenant}, dialer.Program{TenantID: r.tenant, Name: "mail it",
		Type: dialer.ProgramFaxToEmail, AccountID: &acct}); err != nil {
		t.Fatal(err)
	}
	r.cfg = defaultConfig()
	r.cfg.Mail.Timeout = 5 * time.Second
	r.cfg.Mail.FaxToEmailMaxAge = maxAge
	// The clock starts after the fax is recorded (the store's own time).
	r.clock = &testClock{now: time.Now().Add(time.Second)}
	r.queue()
	return r
}

// open opens (or reopens) the store.
func (r *faxMailRig) open() {
	r.t.Helper()
	db, err := store.Open(context.Background(), r.path, store.WithSealKey(r.key))
	if err != nil {
		r.t.Fatal(err)
	}
	files, err := store.OpenFiles(r.files)
	if err != nil {
		r.t.Fatal(err)
	}
	r.db, r.messages = db, store.NewMessages(db, files)
	r.t.Cleanup(func() { db.Close() })
}

// queue builds the daemon's queue and inbox over the store, as newFaxInbox does.
func (r *faxMailRig) queue() {
	r.mailer = &countingMailer{next: faxMailer(r.cfg, r.db)}
	r.q = newFaxMailQueue(r.cfg, faxMailDB{DB: r.db, messages: r.messages}, r.mailer, slog.New(slog.DiscardHandler))
	r.q.now = r.clock.Now
	fakePDF := func(_ context.Context, _ io.Reader, dst io.Writer) error {
		_, err := dst.Write([]byte("%PDF-1.4 a received fax\n"))
		return err
	}
	r.in = &faxInbox{db: r.db, messages: r.messages, toPDF: fakePDF, mail: r.q, log: slog.New(slog.DiscardHandler)}
}

// fax is a fax call ending now, rxfax's file written.
func (r *faxMailRig) fax() esl.ReceivedFax {
	r.t.Helper()
	tiff := filepath.Join(r.t.TempDir(), "rx.tif")
	if err := os.WriteFile(tiff, bilevelTIFF(), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return esl.ReceivedFax{CallUUID: "call-1", From: "15550001111", To: "+15550100100", Path: tiff, Success: true,
		ResultText: "OK", Pages: 1, Answered: time.Now(), End: time.Now()}
}

// receive records a fax and makes its first try, as the ESL gateway does.
func (r *faxMailRig) receive() int64 {
	r.t.Helper()
	r.in.FaxReceived(context.Background(), r.fax())
	return r.last().ID
}

// last is the last inbound transmission.
func (r *faxMailRig) last() dialer.Transmission {
	r.t.Helper()
	txs, err := r.db.Transmissions(context.Background(), dialer.Scope{TenantID: r.tenant},
		dialer.ListQuery{Filters: map[string]string{"direction": "inbound"}, Limit: 100})
	if err != nil || len(txs) == 0 {
		r.t.Fatalf("inbound transmissions %v, %v", txs, err)
	}
	return txs[len(txs)-1]
}

// results are the transmission's results, type.name → every data in order.
func (r *faxMailRig) results(id int64) map[string][]string {
	r.t.Helper()
	rs, err := r.db.TransmissionResults(context.Background(), r.tenant, id)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, x := range rs {
		out[x.Type+"."+x.Name] = append(out[x.Type+"."+x.Name], x.Data)
	}
	return out
}

// TestFaxToEmailRetriedAfter4xx: aiosmtpd greylists the recipient (451 at
// its first RCPT): the first try, right after the fax, is deferred — the
// transmission processing, saying so and when it is tried next — and the
// loop's pass mails it once that time has come: completed, the peer holding
// exactly one message. Before, the 451 failed the transmission for good.
func TestFaxToEmailRetriedAfter4xx(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	r := newFaxMailRig(t, "once@example.org", 24*time.Hour, peer.Port)
	ctx := context.Background()
	id := r.receive()

	tx := r.last()
	if tx.Status != dialer.TransmissionProcessing || !strings.HasPrefix(tx.Response, "mail deferred: 451 4.7.1 greylisted, try again later; next try at ") {
		t.Fatalf("after the 451: %s %q", tx.Status, tx.Response)
	}
	if want := r.clock.Now().Add(time.Minute).Unix(); tx.DueAt != want {
		t.Errorf("due at %d, want %d (a minute on)", tx.DueAt, want)
	}
	r.q.pass(ctx) // not due yet
	if n := r.mailer.n.Load(); n != 1 || peer.Count() != 0 {
		t.Fatalf("%d tries, %d mails before the next try is due", n, peer.Count())
	}
	r.clock.Advance(time.Minute)
	r.q.pass(ctx)
	tx = r.last()
	res := r.results(id)
	if tx.ID != id || tx.Status != dialer.TransmissionCompleted || tx.Response != "NORMAL_CLEARING" || tx.DueAt != 0 {
		t.Errorf("after the retry: %+v", tx)
	}
	if got := res["smtp.reply"]; len(got) != 2 || !strings.HasPrefix(got[0], "451 ") || !strings.HasPrefix(got[1], "250 ") ||
		len(res["email.try"]) != 1 || res["email.to"][0] != "once@example.org" {
		t.Errorf("results %v", res)
	}
	peer.Received(t, 1)
	r.clock.Advance(time.Hour)
	r.q.pass(ctx)
	if n := peer.Count(); n != 1 || r.mailer.n.Load() != 2 {
		t.Errorf("the peer holds %d messages after %d tries, want 1 after 2", n, r.mailer.n.Load())
	}
}

// TestFaxToEmailGivesUpAtMaxAge: with both email providers down
// (connection refused) every try is deferred, 1 then 5 minutes on, the last
// one at the max age exactly; then the transmission fails naming the
// cause, the tries and the last error, and the fax is still a document.
func TestFaxToEmailGivesUpAtMaxAge(t *testing.T) {
	r := newFaxMailRig(t, "ops@example.org", 10*time.Minute, mailtest.FreePort(t), mailtest.FreePort(t))
	ctx := context.Background()
	id := r.receive()
	for i, step := range []time.Duration{0, time.Minute, 5 * time.Minute} {
		r.clock.Advance(step)
		r.q.pass(ctx)
		if tx := r.last(); tx.Status != dialer.TransmissionProcessing || !strings.Contains(tx.Response, "connection refused") {
			t.Fatalf("try %d: %s %q", i+1, tx.Status, tx.Response)
		}
	}
	// 15 minutes on would be past the max age (10 minutes after the fax,
	// about 4 minutes from now): the last try is at it.
	if tx, now := r.last(), r.clock.Now(); tx.DueAt > now.Add(4*time.Minute).Unix() || tx.DueAt < now.Add(3*time.Minute).Unix() {
		t.Errorf("the last try is due at %d, now %d", tx.DueAt, now.Unix())
	}
	r.clock.Advance(4 * time.Minute)
	r.q.pass(ctx)
	tx := r.last()
	if tx.ID != id || tx.Status != dialer.TransmissionFailed || tx.DueAt != 0 ||
		!strings.HasPrefix(tx.Response, dialer.CauseGatewayError+": not mailed within 10m0s (4 tries); last reply: ") ||
		!strings.Contains(tx.Response, "connection refused") {
		t.Errorf("at the max age: %s %q", tx.Status, tx.Response)
	}
	if n := r.mailer.n.Load(); n != 4 {
		t.Errorf("%d tries, want 4", n)
	}
	res := r.results(id)
	if len(res["email.try"]) != 4 || len(res["fax.document_id"]) != 1 {
		t.Fatalf("results %v", res)
	}
	var docID int64
	for _, c := range res["fax.document_id"][0] {
		docID = docID*10 + int64(c-'0')
	}
	d, err := r.messages.Document(ctx, r.tenant, docID)
	if err != nil || d.Type != "pdf" {
		t.Fatalf("the fax's document %+v, %v", d, err)
	}
	if f, err := r.messages.OpenFile(ctx, d.FileHash, "pdf"); err != nil {
		t.Errorf("the fax's PDF: %v", err)
	} else {
		f.Close()
	}
	r.clock.Advance(time.Hour)
	r.q.pass(ctx)
	if n := r.mailer.n.Load(); n != 4 {
		t.Errorf("tried again after it failed: %d tries", n)
	}
}

// TestFaxToEmailAfterACrash: dialerd recorded the fax and was killed
// before mailing it, and another run was killed while mailing one (its
// claim left in the store). The next run's loop, on a reopened store,
// mails each exactly once, at once, even though two passes run together.
func TestFaxToEmailAfterACrash(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	r := newFaxMailRig(t, "ops@example.org", 24*time.Hour, peer.Port)
	ctx := context.Background()
	// The first run: both recorded, neither mailed.
	conv := func(_ context.Context, _ io.Reader, dst io.Writer) error {
		_, err := dst.Write([]byte("%PDF-1.4 x\n"))
		return err
	}
	var ids []int64
	for range 2 {
		f := r.fax()
		got, err := r.messages.ReceiveFax(ctx, store.InboundFax{From: f.From, To: f.To, TIFFPath: f.Path, Success: true, Pages: 1,
			CallUUID: f.CallUUID, Start: f.Answered, End: f.End}, conv)
		if err != nil || !got.MailPending {
			t.Fatalf("record: %+v %v", got, err)
		}
		ids = append(ids, got.TransmissionID)
	}
	if _, ok, err := r.messages.ClaimFaxMail(ctx, ids[1], r.clock.Now(), time.Hour); !ok || err != nil {
		t.Fatalf("the killed run's claim: %v %v", ok, err)
	}
	r.db.Close()

	// The next run: the store reopened, the loop started as serve does.
	r.open()
	r.queue()
	r.q.now = time.Now
	stop := startLoop(ctx, r.q.run)
	defer stop()
	var second sync.WaitGroup
	second.Add(1)
	go func() { defer second.Done(); r.q.pass(ctx) }() // a second pass at once: the claims keep them apart
	defer second.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		done := 0
		for _, id := range ids {
			if tx, err := r.db.Transmission(ctx, r.tenant, id); err == nil && tx.Status == dialer.TransmissionCompleted {
				done++
			}
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not mailed after the restart: %+v", r.last())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if n, tries := peer.Count(), r.mailer.n.Load(); n != 2 || tries != 2 {
		t.Errorf("%d messages after %d tries, want 2 and 2", n, tries)
	}
}

// TestFaxToEmail5xxFailsAtOnce: a 550 is the recipient's refusal, final:
// the transmission fails SMTP_REJECTED on the first try and is never
// tried again.
func TestFaxToEmail5xxFailsAtOnce(t *testing.T) {
	peer := mailtest.StartSMTP(t, false)
	r := newFaxMailRig(t, "reject@example.org", 24*time.Hour, peer.Port)
	ctx := context.Background()
	id := r.receive()
	tx := r.last()
	if tx.Status != dialer.TransmissionFailed || tx.Response != dialer.CauseSMTPRejected || tx.DueAt != 0 {
		t.Errorf("after the 550: %s %q due %d", tx.Status, tx.Response, tx.DueAt)
	}
	if got := r.results(id)["smtp.reply"]; len(got) != 1 || got[0] != "550 5.1.1 no such user here" {
		t.Errorf("replies %v", got)
	}
	for range 3 {
		r.clock.Advance(time.Hour)
		r.q.pass(ctx)
	}
	if n := r.mailer.n.Load(); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
	if d, err := r.db.NextFaxMail(ctx); err != nil || !d.IsZero() {
		t.Errorf("still waiting to be mailed: %v %v", d, err)
	}
}

// blockingMailer holds every mail until released, counting them.
type blockingMailer struct {
	n       atomic.Int32
	release chan struct{}
}

func (m *blockingMailer) MailFax(ctx context.Context, _ FaxMail) (dialer.Outcome, error) {
	m.n.Add(1)
	select {
	case <-m.release:
	case <-ctx.Done():
		return dialer.Outcome{}, ctx.Err()
	}
	now := time.Now()
	return dialer.Outcome{Cause: "NORMAL_CLEARING", Start: now, Connect: now, End: now, Delivered: true}, nil
}

// TestFaxToEmailNeverTwiceAtOnce: tries of one fax started together (the
// one after the fax, passes of the loop) mail it once: the claim is in
// the store before the mail is sent.
func TestFaxToEmailNeverTwiceAtOnce(t *testing.T) {
	r := newFaxMailRig(t, "ops@example.org", time.Hour)
	ctx := context.Background()
	f := r.fax()
	got, err := r.messages.ReceiveFax(ctx, store.InboundFax{From: f.From, To: f.To, TIFFPath: f.Path, Success: true, Pages: 1,
		Start: f.Answered, End: f.End}, r.in.toPDF)
	if err != nil {
		t.Fatal(err)
	}
	m := &blockingMailer{release: make(chan struct{})}
	r.q.mailer = m
	var wg sync.WaitGroup
	var finished atomic.Int32
	for range 4 {
		wg.Add(2)
		go func() { defer wg.Done(); r.q.try(ctx, got.TransmissionID); finished.Add(1) }()
		go func() { defer wg.Done(); r.q.pass(ctx); finished.Add(1) }()
	}
	// Every try but the one holding the claim returns without mailing; a
	// second one mailing would block in the mailer instead.
	deadline := time.Now().Add(5 * time.Second)
	for (finished.Load() < 7 || m.n.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(m.release)
	wg.Wait()
	if n := m.n.Load(); n != 1 {
		t.Errorf("mailed %d times, want 1", n)
	}
	if tx := r.last(); tx.Status != dialer.TransmissionCompleted {
		t.Errorf("status %s", tx.Status)
	}
}

// TestFaxToEmailMailedAtBoot: a data directory where a run recorded a
// faxtoemail fax and was killed before mailing it; dialerd, started on
// it, mails it at boot (its retry loop) to Debian's aiosmtpd, once, and
// the API shows the transmission completed with the reply.
func TestFaxToEmailMailedAtBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and aiosmtpd")
	}
	peer := mailtest.StartSMTP(t, false)
	data, db := sealedData(t)
	ctx := context.Background()
	hash, _ := dialer.HashPassword("admin-password-1", 4)
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	tenant, _ := db.DefaultTenant(ctx)
	if _, err := db.CreateProvider(ctx, dialer.Provider{TenantID: tenant.ID, CreatedBy: 1, Name: "mail", GatewayFlag: dialer.GatewaySendmail,
		ServiceFlag: dialer.ServiceEmail, Host: "127.0.0.1", Port: peer.Port, Settings: `{"tls": "none", "from": "fax@example.com"}`, Active: 1}, ""); err != nil {
		t.Fatal(err)
	}
	acct, err := db.CreateAccount(ctx, dialer.Account{TenantID: tenant.ID, CreatedBy: 1, Type: "did", Phone: "+15550100100",
		Email: "ops@example.org", Active: 1}, dialer.AccountSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateProgram(ctx, dialer.Scope{TenantID: tenant.ID}, dialer.Program{TenantID: tenant.ID, Name: "mail it",
		Type: dialer.ProgramFaxToEmail, AccountID: &acct}); err != nil {
		t.Fatal(err)
	}
	files, err := store.OpenFiles(filepath.Join(data, "media"))
	if err != nil {
		t.Fatal(err)
	}
	tiff := filepath.Join(t.TempDir(), "rx.tif")
	if err := os.WriteFile(tiff, bilevelTIFF(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := store.NewMessages(db, files).ReceiveFax(ctx, store.InboundFax{From: "15550001111", To: "+15550100100", TIFFPath: tiff,
		Success: true, Pages: 1, CallUUID: "call-1", Start: time.Now(), End: time.Now()},
		func(_ context.Context, _ io.Reader, dst io.Writer) error {
			_, err := dst.Write([]byte("%PDF-1.4 x\n"))
			return err
		})
	if err != nil || !got.MailPending {
		t.Fatalf("record: %+v %v", got, err)
	}
	db.Close() // killed here: recorded, not mailed

	d := startDaemon(t, data)
	a := login(t, d, "admin-password-1")
	deadline := time.Now().Add(15 * time.Second)
	var tx map[string]any
	for {
		a.get(fmt.Sprintf("/transmissions/%d", got.TransmissionID), &tx)
		if tx["status"] != "processing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not mailed at boot: %v\n%s", tx, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rs []map[string]any
	a.get(fmt.Sprintf("/transmissions/%d/result", got.TransmissionID), &rs)
	reply := ""
	for _, r := range rs {
		if r["type"] == "smtp" && r["name"] == "reply" {
			reply = fmt.Sprint(r["data"])
		}
	}
	if tx["status"] != "completed" || tx["response"] != "NORMAL_CLEARING" || !strings.HasPrefix(reply, "250 ") {
		t.Errorf("after boot: %v, reply %q", tx, reply)
	}
	if _, env := peer.Received(t, 1); !strings.HasPrefix(env, "fax@example.com\nops@example.org") {
		t.Errorf("envelope %q", env)
	}
	d.stop(t, syscall.SIGTERM)
	if n := peer.Count(); n != 1 {
		t.Errorf("the peer holds %d messages, want 1", n)
	}
}

// TestFaxToEmailDocumentDeletedWhileWaiting: a fax whose mail waits for
// its next try, and whose document the user deletes meanwhile, fails at
// that try saying so (a content fault) instead of waiting forever.
func TestFaxToEmailDocumentDeletedWhileWaiting(t *testing.T) {
	r := newFaxMailRig(t, "ops@example.org", time.Hour, mailtest.FreePort(t))
	ctx := context.Background()
	id := r.receive()
	if tx := r.last(); tx.Status != dialer.TransmissionProcessing {
		t.Fatalf("with the provider down: %s %q", tx.Status, tx.Response)
	}
	docs, err := r.messages.Documents(ctx, dialer.Scope{TenantID: r.tenant}, dialer.ListQuery{Limit: 10})
	if err != nil || len(docs) != 1 {
		t.Fatalf("documents %v, %v", docs, err)
	}
	if err := r.messages.DeleteDocument(ctx, r.tenant, docs[0].ID); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	r.q.pass(ctx)
	tx := r.last()
	errs := r.results(id)["email.error"]
	if tx.Status != dialer.TransmissionFailed || tx.Response != dialer.CauseContentError || len(errs) != 2 ||
		!strings.Contains(errs[1], "deleted before it was mailed") {
		t.Errorf("%s %q, errors %q", tx.Status, tx.Response, errs)
	}
	if n := r.mailer.n.Load(); n != 1 {
		t.Errorf("%d tries reached the mailer, want 1 (the first)", n)
	}
}
