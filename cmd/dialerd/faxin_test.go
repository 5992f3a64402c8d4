package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/api"
	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
	"github.com/dialerd/dialerd/store"
)

// bilevelTIFF is a one-page 16×16 uncompressed bilevel TIFF, which
// tiff2pdf converts: what rxfax's file stands for.
func bilevelTIFF() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8+32))
	b.Write(bytes.Repeat([]byte{0xAA, 0x55}, 16))
	entries := [][4]uint32{{256, 3, 1, 16}, {257, 3, 1, 16}, {258, 3, 1, 1}, {259, 3, 1, 1}, {262, 3, 1, 0},
		{273, 4, 1, 8}, {277, 3, 1, 1}, {278, 3, 1, 16}, {279, 4, 1, 32}}
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, le, uint16(e[0]))
		binary.Write(&b, le, uint16(e[1]))
		binary.Write(&b, le, e[2])
		binary.Write(&b, le, e[3])
	}
	binary.Write(&b, le, uint32(0))
	return b.Bytes()
}

// testFaxQueue is the daemon's fax mail queue (default configuration)
// over db, mailing with mailer.
func testFaxQueue(db *store.DB, messages *store.Messages, mailer FaxMailer) *faxMailQueue {
	return newFaxMailQueue(defaultConfig(), faxMailDB{DB: db, messages: messages}, mailer, slog.New(slog.DiscardHandler))
}

func needTIFF2PDF(t *testing.T) *media.TIFF2PDF {
	t.Helper()
	conv, err := media.NewTIFF2PDF("")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return conv
}

// fakeMailer records the faxes it is asked to mail, or fails.
type fakeMailer struct {
	mu   sync.Mutex
	to   []string
	pdfs [][]byte
	err  error
}

func (m *fakeMailer) MailFax(_ context.Context, f FaxMail) (dialer.Outcome, error) {
	b, _ := os.ReadFile(f.PDFPath)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.to, m.pdfs = append(m.to, f.To), append(m.pdfs, b)
	if m.err != nil {
		return dialer.Outcome{}, m.err
	}
	now := time.Now()
	return dialer.Outcome{Cause: "NORMAL_CLEARING", Start: now, Connect: now, End: now, Delivered: true}, nil
}

// TestFaxInboxFaxToEmail: a fax received for a faxtoemail program is kept
// as a PDF document and its PDF handed to the mailer for the account's
// address; the transmission is completed only when the mailer took it,
// a route's fault leaves it processing (to be tried again), and no mailer
// fails it by the cause table.
func TestFaxInboxFaxToEmail(t *testing.T) {
	conv := needTIFF2PDF(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "dialerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Bootstrap(ctx, "admin", "unused-hash"); err != nil {
		t.Fatal(err)
	}
	tenant, _ := db.DefaultTenant(ctx)
	files, err := store.OpenFiles(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	messages := store.NewMessages(db, files)
	scope := dialer.Scope{TenantID: tenant.ID}
	acct, err := db.CreateAccount(ctx, dialer.Account{TenantID: tenant.ID, CreatedBy: 1, Type: "did", Phone: "+15550100100",
		Email: "ops@example.com", Active: 1}, dialer.AccountSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateProgram(ctx, scope, dialer.Program{TenantID: tenant.ID, Name: "mail it", Type: dialer.ProgramFaxToEmail, AccountID: &acct}); err != nil {
		t.Fatal(err)
	}
	tiff := filepath.Join(dir, "rx.tif")
	mailer := &fakeMailer{}
	in := &faxInbox{db: db, messages: messages, toPDF: conv.Convert, mail: testFaxQueue(db, messages, mailer), log: slog.New(slog.DiscardHandler)}
	if ok, err := in.AcceptFax(ctx, "+15550100100"); !ok || err != nil {
		t.Fatalf("AcceptFax = %v, %v", ok, err)
	}
	if ok, _ := in.AcceptFax(ctx, "+15550100199"); ok {
		t.Fatal("accepted a fax for a DID nobody receives on")
	}
	receive := func() (status, response string) {
		t.Helper()
		if err := os.WriteFile(tiff, bilevelTIFF(), 0o600); err != nil {
			t.Fatal(err)
		}
		in.FaxReceived(ctx, esl.ReceivedFax{CallUUID: "u", From: "15550001111", To: "+15550100100", Path: tiff, Success: true,
			ResultText: "OK", Pages: 1, Answered: time.Now(), End: time.Now()})
		txs, err := db.Transmissions(ctx, scope, dialer.ListQuery{Filters: map[string]string{"direction": "inbound"}, Limit: 100})
		if err != nil || len(txs) == 0 {
			t.Fatalf("transmissions %v, %v", txs, err)
		}
		last := txs[len(txs)-1]
		return string(last.Status), last.Response
	}
	if status, _ := receive(); status != "completed" {
		t.Errorf("mailed fax: %s", status)
	}
	if len(mailer.to) != 1 || mailer.to[0] != "ops@example.com" || !bytes.HasPrefix(mailer.pdfs[0], []byte("%PDF-")) {
		t.Fatalf("mailer got %v", mailer.to)
	}
	// A route's fault: tried again later, processing until then.
	mailer.err = dialer.RouteFault("451", errors.New("451 4.3.0 try again later"))
	if status, response := receive(); status != "processing" || !strings.HasPrefix(response, "mail deferred: route fault: 451 4.3.0 try again later; next try at ") {
		t.Errorf("a 4xx from the SMTP server: %s %s", status, response)
	}
	in.mail.mailer = nil
	if status, response := receive(); status != "failed" || response != dialer.CauseContentError {
		t.Errorf("no mailer: %s %s", status, response)
	}
}

// TestInboundFaxThroughTheDaemon: the daemon, connected to a fake
// FreeSWITCH node on this host, receives a fax call to the DID of an
// account with a receivefax program (made through the API): rxfax writes
// into its data dir, and the API then shows an inbound transmission,
// completed, whose results carry spandsp's and the document, a PDF of
// the fax. A fax that fails (the sender hangs up mid-page) ends FAX_FAILED
// with spandsp's code and no document; a call to a DID nobody receives on
// is hung up unanswered.
func TestInboundFaxThroughTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	needTIFF2PDF(t)
	fs := esltest.Start(t, esltest.Options{Password: "Node-Pass-1"})
	data, _ := dataWithNode(t, fs)

	d := startDaemon(t, data)
	code, body := d.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "admin-password-1"})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	call := func(method, path string, req any) (int, []byte) { return d.call(t, method, path, tok.Token, req) }
	mustID := func(method, path string, req any, field string) int64 {
		t.Helper()
		code, body := call(method, path, req)
		var out map[string]any
		json.Unmarshal(body, &out)
		id, ok := out[field].(float64)
		if code != 200 || !ok {
			t.Fatalf("%s %s: %d %s", method, path, code, body)
		}
		return int64(id)
	}
	account := mustID("POST", "/accounts", map[string]any{"type": "did", "phone": "+15550100100", "first_name": "Fax"}, "account_id")
	mustID("POST", "/programs/receivefax", map[string]any{"name": "fax in", "account_id": account}, "program_id")
	deadline := time.Now().Add(10 * time.Second)
	for !sawCommand(fs, "event") {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not connect:\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	inbound := func(n int) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var list []map[string]any
			_, body := call("GET", "/transmissions?direction=inbound", nil)
			json.Unmarshal(body, &list)
			if len(list) >= n {
				return list[n-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d inbound transmissions, want %d: %s\n%s", len(list), n, body, d.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	results := func(tx map[string]any) map[string]string {
		t.Helper()
		_, body := call("GET", fmt.Sprintf("/transmissions/%d/result", int64(tx["transmission_id"].(float64))), nil)
		var rs []struct{ Type, Name, Data string }
		if err := json.Unmarshal(body, &rs); err != nil {
			t.Fatalf("results %s: %v", body, err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.Type+"."+r.Name] = r.Data
		}
		return out
	}

	fs.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: bilevelTIFF(), Pages: 1}})
	tx := inbound(1)
	if tx["status"] != "completed" || tx["response"] != "NORMAL_CLEARING" {
		t.Fatalf("received fax: %v", tx)
	}
	r := results(tx)
	if r["fax.success"] != "1" || r["fax.pages"] != "1" || r["fax.document_id"] == "" {
		t.Fatalf("results %v", r)
	}
	code, body = call("GET", "/messages/documents/"+r["fax.document_id"], nil)
	if code != 200 || !strings.Contains(string(body), `"type":"pdf"`) {
		t.Errorf("document: %d %s", code, body)
	}
	if _, pdf := call("GET", "/messages/documents/"+r["fax.document_id"]+"/media", nil); !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("document media: %.20q", pdf)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "fax-in", "*")); len(left) != 0 {
		t.Errorf("rxfax files left: %v", left)
	}

	fs.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: bilevelTIFF(), HangUp: true}})
	tx = inbound(2)
	r = results(tx)
	if tx["status"] != "failed" || tx["response"] != dialer.CauseFaxFailed {
		t.Errorf("dropped fax: %v", tx)
	}
	if r["fax.success"] != "0" || r["fax.result_code"] != "49" || r["fax.document_id"] != "" {
		t.Errorf("dropped fax results %v", r)
	}

	before := len(fs.Commands())
	fs.Inbound(esltest.InboundCall{Destination: "15550100999", CallerID: "15550001111"})
	deadline = time.Now().Add(10 * time.Second)
	for !hungUpUnanswered(fs.Commands()[before:]) {
		if time.Now().After(deadline) {
			t.Fatalf("a call to an unknown DID was not hung up:\n%s", d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.stop(t, syscall.SIGTERM)
}

func hungUpUnanswered(cmds []esltest.Command) bool {
	for _, c := range cmds {
		if c.Name == "sendmsg" {
			return c.Header("call-command") == "hangup" && c.Header("hangup-cause") == "UNALLOCATED_NUMBER"
		}
	}
	return false
}

// TestFaxToEmailThroughTheAPI: the API (over the daemon's store) makes a
// DID account with an email address and a faxtoemail program; a fax call
// to that DID on the fake FreeSWITCH is received by the esl gateway into
// the fax inbox, whose mailer (faked) gets the PDF for that address; the
// API then shows the inbound transmission completed, with the fax's and the
// mail's results. When the mail server answers 451 (the route's fault by
// the cause table) the transmission stays processing, due again later.
func TestFaxToEmailThroughTheAPI(t *testing.T) {
	conv := needTIFF2PDF(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "dialerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hash, _ := dialer.HashPassword("admin-password-1", bcrypt.MinCost)
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	files, err := store.OpenFiles(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	messages := store.NewMessages(db, files)
	log := slog.New(slog.DiscardHandler)
	// The transmission routes answer only beside a running spool engine;
	// this one has nothing to dial.
	es := store.NewEngineStore(db)
	defer es.Close()
	eng, err := dialer.NewEngine(dialer.DefaultEngineConfig(), dialer.EngineDeps{Store: es, Routes: es,
		Gateway: memgateway.New(dialer.SystemClock{}, memgateway.Script{}), Clock: dialer.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		eng.Stop(stopped)
	}()
	srv, err := api.New(api.Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 1 << 20,
		MaxImportBytes: 1 << 20, DefaultCountryCode: "1", PasswordCost: bcrypt.MinCost}, log,
		api.Deps{Users: db, Accounts: db, Programs: db, Transmissions: db, Campaigns: db, Engine: eng, Messages: messages,
			Contacts: db, Groups: db,
			Checks: []api.ReadyCheck{{Name: "store", Check: db.Ping}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	d := &daemonProc{addr: strings.TrimPrefix(hs.URL, "http://")}
	code, body := d.call(t, "POST", "/authenticate", "", map[string]string{"username": "admin", "password": "admin-password-1"})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	call := func(method, path string, req any) (int, []byte) { return d.call(t, method, path, tok.Token, req) }
	code, body = call("POST", "/accounts", map[string]any{"type": "did", "phone": "+15550100100", "email": "ops@example.com"})
	var acct struct {
		ID int64 `json:"account_id"`
	}
	if code != 200 || json.Unmarshal(body, &acct) != nil {
		t.Fatalf("account: %d %s", code, body)
	}
	if code, body := call("POST", "/programs/faxtoemail", map[string]any{"name": "to mail", "account_id": acct.ID}); code != 200 {
		t.Fatalf("program: %d %s", code, body)
	}

	mailer := &fakeMailer{}
	fs := esltest.Start(t, esltest.Options{})
	gw := esl.New(esl.Options{Log: log, DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, ChannelGrace: 2 * time.Second,
		Fax: &faxInbox{db: db, messages: messages, toPDF: conv.Convert, mail: testFaxQueue(db, messages, mailer), log: log}, FaxDir: t.TempDir()})
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		gw.Close(ctx)
	}()
	host, port, _ := net.SplitHostPort(fs.Addr())
	p, _ := strconv.Atoi(port)
	if err := gw.ApplyNode(dialer.FreeSwitchNode{ID: "1", Name: "fs", Host: host, Port: p, Password: "ClueCon",
		SessionsPerSecond: 30, MaxSessions: 10}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gw.NodeHealth()["1"] != nil {
		if time.Now().After(deadline) {
			t.Fatal("the node did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The n-th inbound transmission once it reads status and a response
	// that starts with response: the mail's outcome follows the fax's.
	inbound := func(n int, status, response string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var list []map[string]any
			_, body := call("GET", "/transmissions?direction=inbound", nil)
			json.Unmarshal(body, &list)
			if len(list) >= n && list[n-1]["status"] == status && strings.HasPrefix(fmt.Sprint(list[n-1]["response"]), response) {
				return list[n-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("inbound transmission %d is not %s/%s: %s", n, status, response, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fs.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: bilevelTIFF(), Pages: 1}})
	waitMailed := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mailer.mu.Lock()
			got := len(mailer.to)
			mailer.mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d faxes mailed, want %d", got, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitMailed(1)
	tx := inbound(1, "completed", "NORMAL_CLEARING")
	if mailer.to[0] != "ops@example.com" || !bytes.HasPrefix(mailer.pdfs[0], []byte("%PDF-")) {
		t.Fatalf("mailed to %v", mailer.to)
	}
	// The mail's result is added once the mailer has returned.
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, body = call("GET", fmt.Sprintf("/transmissions/%d/result", int64(tx["transmission_id"].(float64))), nil)
		if strings.Contains(string(body), `"ops@example.com"`) && strings.Contains(string(body), `"document_id"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("results %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	mailer.mu.Lock()
	mailer.err = dialer.RouteFault("451", errors.New("451 4.3.0 try again later"))
	mailer.mu.Unlock()
	fs.Inbound(esltest.InboundCall{Destination: "15550100100", CallerID: "15550001111",
		Fax: esltest.InboundFax{Success: true, TIFF: bilevelTIFF(), Pages: 1}})
	waitMailed(2)
	tx = inbound(2, "processing", "mail deferred: route fault: 451 4.3.0 try again later; next try at ")
	if tx["due_at"] == float64(0) {
		t.Errorf("a deferred mail's transmission shows no next try: %v", tx)
	}
	// While it waits it is no one else's: the engine does not send it,
	// nobody deletes it, and its spool is still open.
	path := fmt.Sprintf("/transmissions/%d", int64(tx["transmission_id"].(float64)))
	for _, c := range []struct{ method, path string }{{"DELETE", path}, {"POST", path + "/send"}, {"POST", path + "/retry"}} {
		if code, body := call(c.method, c.path, nil); code != 409 {
			t.Errorf("%s %s of a fax waiting to be mailed: %d %s", c.method, c.path, code, body)
		}
	}
	if _, body := call("GET", path+"/detail", nil); !strings.Contains(string(body), `"status":"initiated"`) ||
		!strings.Contains(string(body), `"response":"mail deferred: `) {
		t.Errorf("spools %s", body)
	}
}

// dataWithNode prepares a data directory for startDaemon: a seal key, the
// bootstrap admin (password admin-password-1) and, in the default tenant,
// an enabled FreeSWITCH profile for fs. It returns the directory and the
// profile's id.
func dataWithNode(t *testing.T, fs *esltest.Server) (string, int64) {
	t.Helper()
	data, db := sealedData(t)
	ctx := context.Background()
	defer db.Close()
	hash, err := dialer.HashPassword("admin-password-1", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	tenant, err := db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(fs.Addr())
	p, _ := strconv.Atoi(port)
	node, err := db.CreatePBX(ctx, dialer.PBXProfile{TenantID: tenant.ID, Type: dialer.PBXFreeSwitch, Name: "fs", Enabled: true,
		Host: host, Port: p, Password: "Node-Pass-1", SessionsPerSecond: 30, MaxSessions: 100})
	if err != nil {
		t.Fatal(err)
	}
	return data, node
}

// sealedData is a data directory with a seal key, as dialerd makes one,
// and its store open (the caller closes it before starting a daemon).
func sealedData(t *testing.T) (string, *store.DB) {
	t.Helper()
	data := t.TempDir()
	key := make([]byte, store.SealKeySize)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(data, "seal.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "dialerd.db"), store.WithSealKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return data, db
}
