package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// EngineStore is the spool engine's persistence (dialer.EngineStore and
// dialer.RouteSource). Reads use the read pool. Writes go through one
// goroutine that commits whatever has queued up in one transaction (group
// commit): a single-row transaction per call event would cap the engine
// near SQLite's ~20k commits/s, batches reach ~235k rows/s. Nothing waits
// artificially: under light load a batch is one operation and commits at
// once; under heavy load batches grow while the previous one commits.
type EngineStore struct {
	db       *DB
	w, r     *sql.DB // the engine's own writer and readers (see DB.enginePools)
	own      bool    // w and r are ours to close
	poolErr  error   // why the engine shares the API's pools, if it does
	mediaDir string

	mu     sync.RWMutex // guards closed against sends on a closed ops
	closed bool
	ops    chan writeOp
	done   chan struct{}

	errMu sync.Mutex
	err   error // the first write error since the last Sync

	// prepared holds the writer goroutine's statements, prepared once on
	// the writer pool and bound to each transaction (see stmtCache).
	prepared map[string]*sql.Stmt
}

// maxBatch bounds the operations of one transaction, so a commit never
// holds the write lock long.
const maxBatch = 1024

// writeOp is one queued write. Exactly one of change, begin and fn is set;
// none makes a barrier (Sync).
type writeOp struct {
	change dialer.Change
	begin  *dialer.AttemptStart
	fn     func(ctx context.Context, tx *sql.Tx) error
	reply  chan writeResult // nil for changes
}

type writeResult struct {
	id  int64
	err error
}

// NewEngineStore starts the engine's writer over db. Close it before db.
// Media files are looked up under <directory of the database>/media.
func NewEngineStore(db *DB) *EngineStore {
	s := &EngineStore{
		db:       db,
		w:        db.w,
		r:        db.r,
		mediaDir: filepath.Join(filepath.Dir(db.path), "media"),
		ops:      make(chan writeOp, 4*maxBatch),
		done:     make(chan struct{}),
		prepared: map[string]*sql.Stmt{},
	}
	if w, r, err := db.enginePools(); err == nil {
		s.w, s.r, s.own = w, r, true
	} else {
		s.poolErr = err // share the API's pools: slower under API load, never wrong
	}
	go s.run()
	return s
}

// SharedPools says why the engine could not open connections of its own
// and shares the API's; nil when it has its own.
func (s *EngineStore) SharedPools() error { return s.poolErr }

// Close commits what is queued and stops the writer.
func (s *EngineStore) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ops)
	}
	s.mu.Unlock()
	<-s.done
	err := s.takeErr()
	if s.own {
		for _, st := range s.prepared {
			st.Close()
		}
		err = errors.Join(err, s.r.Close(), s.w.Close())
	}
	return err
}

var errStoreClosed = errors.New("store: engine store closed")

func (s *EngineStore) send(op writeOp) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errStoreClosed
	}
	s.ops <- op
	return nil
}

// call queues op and waits for its result.
func (s *EngineStore) call(ctx context.Context, op writeOp) (int64, error) {
	op.reply = make(chan writeResult, 1)
	if err := s.send(op); err != nil {
		return 0, err
	}
	select {
	case r := <-op.reply:
		return r.id, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// exec runs fn in the writer's order, in its own savepoint.
func (s *EngineStore) exec(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	_, err := s.call(ctx, writeOp{fn: fn})
	return err
}

// BeginAttempt implements dialer.EngineStore.
func (s *EngineStore) BeginAttempt(ctx context.Context, a dialer.AttemptStart) (int64, error) {
	return s.call(ctx, writeOp{begin: &a})
}

// Record implements dialer.EngineStore. After Close it drops the change
// and notes the error for the next Sync.
func (s *EngineStore) Record(c dialer.Change) {
	if err := s.send(writeOp{change: c}); err != nil {
		s.noteErr(err)
	}
}

// Sync implements dialer.EngineStore.
func (s *EngineStore) Sync(ctx context.Context) error {
	if _, err := s.call(ctx, writeOp{}); err != nil {
		return err
	}
	return s.takeErr()
}

func (s *EngineStore) noteErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *EngineStore) takeErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	err := s.err
	s.err = nil
	return err
}

func (s *EngineStore) run() {
	defer close(s.done)
	defer func() {
		for _, st := range s.prepared {
			_ = st.Close()
		}
	}()
	batch := make([]writeOp, 0, maxBatch)
	for op := range s.ops {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-s.ops:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// The writer's statements, prepared once (see stmtCache).
const (
	sqlSavepoint         = `SAVEPOINT op`
	sqlRollbackTo        = `ROLLBACK TO op`
	sqlRelease           = `RELEASE op`
	sqlBeginTransmission = `UPDATE transmissions SET status = 'processing', try_done = try_done + 1, due_at = 0, updated_at = ?
		WHERE transmission_id = ? AND tenant_id = ? AND status = 'pending'`
	sqlInsertSpool = `INSERT INTO spools (tenant_id, transmission_id, call_uuid, provider_id, gateway, node, status, time_spool, caller_id)
		VALUES (?, ?, ?, ?, ?, ?, 'initiated', ?, ?)`
	sqlCloseSendSchedule = `UPDATE schedules SET done_at = ? WHERE action = ? AND target_id = ? AND tenant_id = ? AND done_at = 0`
	sqlSpoolRinging      = `UPDATE spools SET time_ringing = ? WHERE spool_id = ? AND status = 'initiated'`
	sqlSpoolAnswered     = `UPDATE spools SET time_connect = ?, dialog = ? WHERE spool_id = ? AND status = 'initiated'`
	sqlSpoolDelivered    = `UPDATE spools SET time_delivered = ? WHERE spool_id = ? AND status = 'initiated'`
	sqlCloseSpool        = `UPDATE spools SET status = ?, response = ?, time_start = ?, time_connect = ?, time_end = ?
			WHERE spool_id = ?`
	sqlSpoolResult              = `INSERT INTO spool_results (tenant_id, spool_id, type, name, data, created_at) VALUES (?, ?, ?, ?, ?, ?)`
	sqlTransmissionAfterAttempt = `UPDATE transmissions SET status = ?, response = ?, due_at = ?, try_done = MAX(0, try_done - ?), updated_at = ?
			WHERE transmission_id = ?`
	sqlTransmissionChanged = `UPDATE transmissions SET status = ?, response = ?, due_at = ?, updated_at = ? WHERE transmission_id = ?`
	sqlCampaignFinished    = `UPDATE campaigns SET status = 'completed', finished_at = ?, updated_at = ? WHERE campaign_id = ? AND status = 'active'`
)

// writerStatements are prepared before the writer's first transaction.
var writerStatements = []string{
	sqlSavepoint,
	sqlRollbackTo,
	sqlRelease,
	sqlBeginTransmission,
	sqlInsertSpool,
	sqlCloseSendSchedule,
	sqlSpoolRinging,
	sqlSpoolAnswered,
	sqlSpoolDelivered,
	sqlCloseSpool,
	sqlSpoolResult,
	sqlTransmissionAfterAttempt,
	sqlTransmissionChanged,
	sqlCampaignFinished,
}

// stmtCache gives a transaction the writer's statements. Each is
// prepared once for the life of the store and bound to the transaction
// (database/sql reuses the statement already prepared on the writer's one
// connection). At 100 calls a second the batches are small, one to three
// operations, and preparing each statement (SAVEPOINT and RELEASE
// included) in every transaction was about 40 % of the writer's CPU: SQL
// parsing in the pure Go SQLite.
type stmtCache struct {
	s   *EngineStore
	ctx context.Context
	tx  *sql.Tx
	m   map[string]*sql.Stmt
}

func (c *stmtCache) exec(query string, args ...any) (sql.Result, error) {
	st, ok := c.m[query]
	if !ok {
		if base, ok := c.s.prepared[query]; ok {
			st = c.tx.StmtContext(c.ctx, base)
		} else {
			// Not one of writerStatements: prepared for this transaction.
			var err error
			if st, err = c.tx.PrepareContext(c.ctx, query); err != nil {
				return nil, err
			}
		}
		c.m[query] = st
	}
	return st.ExecContext(c.ctx, args...)
}

// prepare prepares writerStatements on the writer pool, outside any
// transaction (the pool's one connection is free). A statement that fails
// to prepare is prepared per transaction instead, where its error shows.
func (s *EngineStore) prepare(ctx context.Context) {
	for _, q := range writerStatements {
		if _, ok := s.prepared[q]; ok {
			continue
		}
		if st, err := s.w.PrepareContext(ctx, q); err == nil {
			s.prepared[q] = st
		}
	}
}

func (s *EngineStore) commit(batch []writeOp) {
	ctx := context.Background()
	if len(s.prepared) < len(writerStatements) {
		s.prepare(ctx)
	}
	results := make([]writeResult, len(batch))
	err := runTx(ctx, s.w, func(tx *sql.Tx) error {
		sc := &stmtCache{s: s, ctx: ctx, tx: tx, m: map[string]*sql.Stmt{}}
		for i, op := range batch {
			switch {
			case op.change != nil:
				if err := applyChange(sc, op.change); err != nil {
					s.noteErr(err)
				}
			case op.begin != nil:
				results[i] = inSavepoint(sc, func() (int64, error) { return beginAttempt(sc, op.begin) })
			case op.fn != nil:
				results[i] = inSavepoint(sc, func() (int64, error) { return 0, op.fn(ctx, tx) })
			}
		}
		return nil
	})
	for i, op := range batch {
		if op.reply == nil {
			continue
		}
		r := results[i]
		if err != nil {
			r = writeResult{err: err}
		}
		op.reply <- r
	}
	if err != nil {
		s.noteErr(err)
	}
}

// inSavepoint runs fn so that its failure undoes its own writes only, not
// the rest of the batch.
func inSavepoint(sc *stmtCache, fn func() (int64, error)) writeResult {
	if _, err := sc.exec(sqlSavepoint); err != nil {
		return writeResult{err: fmt.Errorf("store: savepoint: %w", err)}
	}
	id, err := fn()
	if err != nil {
		if _, rerr := sc.exec(sqlRollbackTo); rerr != nil {
			return writeResult{err: errors.Join(err, rerr)}
		}
	}
	if _, rerr := sc.exec(sqlRelease); rerr != nil {
		return writeResult{err: errors.Join(err, rerr)}
	}
	return writeResult{id: id, err: err}
}

// zeroAsNull stores an unset (zero) id as NULL.
func zeroAsNull(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// unixMS is a due time as stored: Unix milliseconds, 0 for "not queued".
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// unixS is a spool time as stored: Unix seconds, 0 for "never".
func unixS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromS(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

func beginAttempt(sc *stmtCache, a *dialer.AttemptStart) (int64, error) {
	now := a.At.Unix()
	res, err := sc.exec(sqlBeginTransmission, now, a.TransmissionID, a.TenantID)
	if err != nil {
		return 0, fmt.Errorf("store: begin attempt: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, dialer.ErrAttemptGone
	}
	res, err = sc.exec(sqlInsertSpool, a.TenantID, a.TransmissionID, a.CallUUID, zeroAsNull(a.ProviderID), a.Gateway, a.Node, now, a.CallerID)
	if err != nil {
		return 0, fmt.Errorf("store: insert spool: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: insert spool: %w", err)
	}
	if _, err := sc.exec(sqlCloseSendSchedule,
		now, dialer.ScheduleTransmissionSend, a.TransmissionID, a.TenantID); err != nil {
		return 0, fmt.Errorf("store: close schedule: %w", err)
	}
	return id, nil
}

func applyChange(sc *stmtCache, c dialer.Change) error {
	now := time.Now().Unix()
	switch c := c.(type) {
	case dialer.SpoolRinging:
		_, err := sc.exec(sqlSpoolRinging, unixS(c.At), c.SpoolID)
		return wrap("spool ringing", err)
	case dialer.SpoolAnswered:
		var dialog any
		if len(c.Dialog) > 0 {
			dialog = c.Dialog
		}
		_, err := sc.exec(sqlSpoolAnswered, unixS(c.At), dialog, c.SpoolID)
		return wrap("spool answered", err)
	case dialer.SpoolDelivered:
		_, err := sc.exec(sqlSpoolDelivered, unixS(c.At), c.SpoolID)
		return wrap("spool delivered", err)
	case dialer.AttemptEnded:
		if _, err := sc.exec(sqlCloseSpool, c.SpoolStatus, c.Response, unixS(c.Start), unixS(c.Connect), unixS(c.End), c.SpoolID); err != nil {
			return wrap("close spool", err)
		}
		for _, r := range c.Results {
			if _, err := sc.exec(sqlSpoolResult,
				c.TenantID, c.SpoolID, r.Type, r.Name, r.Data, unixS(c.End)); err != nil {
				return wrap("spool result", err)
			}
		}
		refund := 0
		if c.Refund {
			refund = 1
		}
		_, err := sc.exec(sqlTransmissionAfterAttempt, c.Status, c.Response, unixMS(c.Due), refund, now, c.TransmissionID)
		return wrap("transmission after attempt", err)
	case dialer.TransmissionChanged:
		_, err := sc.exec(sqlTransmissionChanged,
			c.Status, c.Response, unixMS(c.Due), now, c.TransmissionID)
		return wrap("transmission", err)
	case dialer.CampaignFinished:
		_, err := sc.exec(sqlCampaignFinished,
			unixS(c.At), now, c.CampaignID)
		return wrap("campaign finished", err)
	case dialer.TransmissionSuppressed, dialer.WindowDeferred:
		return applyCompliance(sc, c, now)
	}
	return fmt.Errorf("store: unknown change %T", c)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// workCols reads a transmission with its contact, program and account as
// dialer.Work, plus its status; workFrom joins them.
const workCols = `t.transmission_id, t.tenant_id, t.created_by, COALESCE(t.campaign_id, 0), t.program_id, p.type, c.phone, c.email,
	c.timezone, COALESCE(a.phone, ''), t.try_done, t.try_allowed, t.due_at, t.status,
	c.first_name, c.last_name, c.address, c.custom1, c.custom2, c.custom3, c.description`

const workFrom = ` FROM transmissions t
	JOIN contacts c ON c.contact_id = t.contact_id
	JOIN programs p ON p.program_id = t.program_id
	LEFT JOIN accounts a ON a.account_id = t.account_id`

func scanWork(r rowScanner, extra ...any) (dialer.Work, dialer.TransmissionStatus, error) {
	var w dialer.Work
	var prog, status string
	var due int64
	dst := []any{&w.TransmissionID, &w.TenantID, &w.OwnerID, &w.CampaignID, &w.ProgramID, &prog, &w.Phone, &w.Email,
		&w.ContactTZ, &w.CallerID, &w.TryDone, &w.TryAllowed, &due, &status,
		&w.Contact.FirstName, &w.Contact.LastName, &w.Contact.Address, &w.Contact.Custom1, &w.Contact.Custom2,
		&w.Contact.Custom3, &w.Contact.Description}
	err := r.Scan(append(dst, extra...)...)
	w.Contact.Phone, w.Contact.Email = w.Phone, w.Email
	w.Program = dialer.ProgramType(prog)
	w.Due = fromMS(due)
	return w, dialer.TransmissionStatus(status), err
}

func (s *EngineStore) works(ctx context.Context, what, where string, args ...any) ([]dialer.Work, error) {
	return s.worksOrdered(ctx, what, where, ` ORDER BY t.due_at, t.transmission_id`, args...)
}

func (s *EngineStore) worksOrdered(ctx context.Context, what, where, order string, args ...any) ([]dialer.Work, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+workCols+workFrom+` WHERE `+where+order, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	var out []dialer.Work
	for rows.Next() {
		w, _, err := scanWork(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, w)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// QueuedWork implements dialer.EngineStore.
func (s *EngineStore) QueuedWork(ctx context.Context) ([]dialer.Work, error) {
	return s.works(ctx, "queued work", `t.status = 'pending' AND t.due_at > 0 AND t.campaign_id IS NULL`)
}

// CampaignWork implements dialer.EngineStore.
func (s *EngineStore) CampaignWork(ctx context.Context, campaignID, afterID int64, limit int) ([]dialer.Work, error) {
	return s.worksOrdered(ctx, "campaign work", `t.campaign_id = ? AND t.status = 'pending' AND t.transmission_id > ?`,
		` ORDER BY t.transmission_id LIMIT ?`, campaignID, afterID, limit)
}

// WorkOf implements dialer.EngineStore.
func (s *EngineStore) WorkOf(ctx context.Context, tenantID string, id int64) (dialer.Work, dialer.TransmissionStatus, error) {
	w, st, err := scanWork(s.r.QueryRowContext(ctx, `SELECT `+workCols+workFrom+` WHERE t.tenant_id = ? AND t.transmission_id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, st, dialer.NotFound("transmission")
	}
	if err != nil {
		return w, st, fmt.Errorf("store: transmission %d: %w", id, err)
	}
	return w, st, nil
}

// OpenSpools implements dialer.EngineStore.
func (s *EngineStore) OpenSpools(ctx context.Context) ([]dialer.OpenSpool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+workCols+`, sp.spool_id, sp.call_uuid, COALESCE(sp.provider_id, 0), sp.node, sp.time_spool,
		sp.gateway, sp.time_ringing, sp.time_connect, sp.time_delivered, sp.dialog
		FROM spools sp JOIN transmissions t ON t.transmission_id = sp.transmission_id
		JOIN contacts c ON c.contact_id = t.contact_id
		JOIN programs p ON p.program_id = t.program_id
		LEFT JOIN accounts a ON a.account_id = t.account_id
		WHERE sp.status = 'initiated'
		  AND NOT EXISTS (SELECT 1 FROM fax_mails fm WHERE fm.transmission_id = sp.transmission_id)
		ORDER BY sp.spool_id`) // a received fax being mailed is the fax mail queue's, not a call
	if err != nil {
		return nil, fmt.Errorf("store: open spools: %w", err)
	}
	var out []dialer.OpenSpool
	for rows.Next() {
		var o dialer.OpenSpool
		var spooled, ringing, answered, delivered int64
		o.Work, _, err = scanWork(rows, &o.SpoolID, &o.CallUUID, &o.ProviderID, &o.Node, &spooled,
			&o.Gateway, &ringing, &answered, &delivered, &o.Dialog)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: open spools: %w", err)
		}
		o.Spooled = time.Unix(spooled, 0)
		o.Ringing, o.Answered, o.Delivered = fromS(ringing), fromS(answered), fromS(delivered)
		out = append(out, o)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: open spools: %w", err)
	}
	return out, nil
}

// RequeueOrphans implements dialer.EngineStore.
func (s *EngineStore) RequeueOrphans(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE transmissions SET status = 'pending', due_at = ?, updated_at = ?
			WHERE status = 'processing' AND NOT EXISTS
			(SELECT 1 FROM spools s WHERE s.transmission_id = transmissions.transmission_id AND s.status = 'initiated')
			AND NOT EXISTS (SELECT 1 FROM fax_mails fm WHERE fm.transmission_id = transmissions.transmission_id)`,
			unixMS(now), now.Unix())
		if err != nil {
			return fmt.Errorf("store: requeue orphans: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ProgramMedia implements dialer.EngineStore. Media files live by content
// hash and extension under the media directory, laid out as Files lays
// them out.
func (s *EngineStore) ProgramMedia(ctx context.Context, tenantID string, programID int64) (dialer.ProgramType, dialer.Media, error) {
	var m dialer.Media
	var typ, recording, document, attachment string
	var recordingExt, confirmExt sql.NullString
	var confirm string
	err := s.r.QueryRowContext(ctx, `SELECT p.type, p.tts_text, p.tts_voice, p.tts_language,
		COALESCE(NULLIF(r.telephony_hash, ''), r.file_hash, ''), CASE WHEN r.telephony_hash = '' THEN r.type ELSE 'wav' END,
		COALESCE(d.file_hash, ''),
		COALESCE(tm.subject, ''), COALESCE(tm.body, ''), COALESCE(tm.body_alt, ''), COALESCE(tx.data, ''),
		p.opt_out_digit, p.on_machine,
		COALESCE(NULLIF(oc.telephony_hash, ''), oc.file_hash, ''), CASE WHEN oc.telephony_hash = '' THEN oc.type ELSE 'wav' END,
		COALESCE(tm.file_hash, ''), COALESCE(tm.type, '')
		FROM programs p
		LEFT JOIN recordings r ON r.recording_id = p.recording_id
		LEFT JOIN documents d ON d.document_id = p.document_id
		LEFT JOIN templates tm ON tm.template_id = p.template_id
		LEFT JOIN texts tx ON tx.text_id = p.text_id
		LEFT JOIN recordings oc ON oc.recording_id = p.opt_out_recording_id AND oc.tenant_id = p.tenant_id
		WHERE p.tenant_id = ? AND p.program_id = ?`, tenantID, programID).
		Scan(&typ, &m.TTSText, &m.TTSVoice, &m.TTSLanguage, &recording, &recordingExt, &document, &m.Subject, &m.Body, &m.BodyAlt, &m.Text,
			&m.OptOutDigit, &m.OnMachine, &confirm, &confirmExt, &attachment, &m.AttachmentType)
	if errors.Is(err, sql.ErrNoRows) {
		return "", m, dialer.NotFound("program")
	}
	if err != nil {
		return "", m, fmt.Errorf("store: program media: %w", err)
	}
	// Paths carry the extension FreeSWITCH picks the format by.
	if recording != "" && validHash(recording) && validExt(recordingExt.String) {
		m.RecordingPath = contentPath(s.mediaDir, recording, recordingExt.String)
	}
	if confirm != "" && validHash(confirm) && validExt(confirmExt.String) {
		m.OptOutConfirmPath = contentPath(s.mediaDir, confirm, confirmExt.String)
	}
	// txfax sends the fax TIFF: the upload itself, or the copy converted
	// from a PDF. A PDF not (yet) converted has none: no path, rather than
	// one txfax cannot open.
	if document != "" && validHash(document) {
		if p := contentPath(s.mediaDir, document, ExtTIFF); fileExists(p) {
			m.DocumentPath = p
		}
	}
	if attachment != "" && validHash(attachment) {
		if p := contentPath(s.mediaDir, attachment, ExtAttachment); fileExists(p) {
			m.AttachmentPath = p
		}
	}
	if m.AttachmentPath == "" {
		m.AttachmentType = ""
	}
	if dialer.ProgramType(typ) == dialer.ProgramVoiceTTS && m.TTSText == "" {
		// A voicetts program's stored text (text_id) is what it speaks.
		m.TTSText, m.Text = m.Text, ""
	}
	if m.Text != "" {
		m.Segments = dialer.SplitSMS(m.Text) // one SIP MESSAGE per segment
	}
	return dialer.ProgramType(typ), m, nil
}
