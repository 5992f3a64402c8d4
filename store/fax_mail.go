package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/google/uuid"
)

// FaxMailJob is a received fax to mail (faxtoemail), as ClaimFaxMail hands
// it to the one who mails it.
type FaxMailJob struct {
	TransmissionID int64
	TenantID       string
	Email          string // the receiving account's address when the fax came
	// PDFPath is the fax's PDF; "" when its document was deleted since.
	PDFPath   string
	From, DID string // the caller's number and the DID, as the trunk sent them
	Pages     int
	CallUUID  string
	// Tries is how many tries ended before this one; LastError the last
	// one's SMTP reply or error.
	Tries     int
	LastError string
	Received  time.Time // when the fax was recorded: its max age counts from here
	// Claim is this try's: DeferFaxMail, FinishFaxMail and ReleaseFaxMail
	// take it, and refuse a claim that was lost (ErrFaxMailClaimLost).
	Claim string
}

// ErrFaxMailClaimLost: the mail's claim is not the caller's any more (it
// outlived its lease and another try took it, or the mail has ended).
var ErrFaxMailClaimLost = errors.New("store: the fax mail's claim was lost")

// faxMailWaiting is a faxtoemail transmission's response before its first try.
func faxMailWaiting(email string) string { return "fax received; to be mailed to " + email }

// DueFaxMails lists the faxes to mail whose next try is due at now and
// that nobody holds (no claim, or one older than lease: its try is over),
// at most limit, the earliest first.
func (db *DB) DueFaxMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]int64, error) {
	return column[int64](ctx, db.r, "due fax mails", `SELECT transmission_id FROM fax_mails
		WHERE due_at <= ? AND (claim = '' OR claimed_at <= ?) ORDER BY due_at, transmission_id LIMIT ?`,
		unixMS(now), unixMS(now.Add(-lease)), limit)
}

// NextFaxMail is when the earliest fax to mail that nobody holds is due;
// zero when none is waiting.
func (db *DB) NextFaxMail(ctx context.Context) (time.Time, error) {
	var due sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT MIN(due_at) FROM fax_mails WHERE claim = ''`).Scan(&due); err != nil {
		return time.Time{}, fmt.Errorf("store: next fax mail: %w", err)
	}
	return fromMS(due.Int64), nil
}

// ClaimFaxMail takes the fax mail of transmission id for one try, when it
// is due at now and nobody holds it (see DueFaxMails): ok is false
// otherwise. The claim is written before the mail is sent, so that two
// tries (the one right after the fax, the retry loop) never mail it at
// once; it lapses after lease, which must outlast a try.
func (m *Messages) ClaimFaxMail(ctx context.Context, id int64, now time.Time, lease time.Duration) (job FaxMailJob, ok bool, err error) {
	claim := uuid.NewString()
	err = m.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE fax_mails SET claim = ?, claimed_at = ?
			WHERE transmission_id = ? AND due_at <= ? AND (claim = '' OR claimed_at <= ?)`,
			claim, unixMS(now), id, unixMS(now), unixMS(now.Add(-lease)))
		if err != nil {
			return fmt.Errorf("store: claim fax mail: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		var hash, typ sql.NullString
		var received int64
		err = tx.QueryRowContext(ctx, `SELECT f.tenant_id, f.email, f.from_number, f.did, f.pages, f.call_uuid, f.tries,
			f.last_error, f.received_at, d.file_hash, d.type
			FROM fax_mails f LEFT JOIN documents d ON d.document_id = f.document_id AND d.tenant_id = f.tenant_id
			WHERE f.transmission_id = ?`, id).Scan(&job.TenantID, &job.Email, &job.From, &job.DID, &job.Pages, &job.CallUUID,
			&job.Tries, &job.LastError, &received, &hash, &typ)
		if err != nil {
			return fmt.Errorf("store: claim fax mail: %w", err)
		}
		if hash.String != "" && typ.String == ExtPDF {
			job.PDFPath = m.files.path(hash.String, ExtPDF)
		}
		job.TransmissionID, job.Received, job.Claim, ok = id, fromMS(received), claim, true
		return nil
	})
	return job, ok, err
}

// DeferFaxMail records a try of a claimed fax mail that every route
// refused for now (an SMTP 4xx, no answer): lastError (the reply) and the
// try's results are kept, the transmission stays processing with response
// saying so and due at next, and the mail is due again at next, unclaimed.
func (db *DB) DeferFaxMail(ctx context.Context, job FaxMailJob, next time.Time, lastError, response string, results []dialer.Result) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE fax_mails SET tries = tries + 1, last_error = ?, due_at = ?, claim = '', claimed_at = 0
			WHERE transmission_id = ? AND claim = ?`, lastError, unixMS(next), job.TransmissionID, job.Claim)
		if err := claimHeld(res, err); err != nil {
			return err
		}
		return setInbound(ctx, tx, job.TransmissionID, string(dialer.TransmissionProcessing), response, next, results)
	})
}

// FinishFaxMail records the last try of a claimed fax mail: the mail is
// over, and the transmission ends with status (completed or failed),
// response and the try's results.
func (db *DB) FinishFaxMail(ctx context.Context, job FaxMailJob, status, response string, results []dialer.Result) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM fax_mails WHERE transmission_id = ? AND claim = ?`, job.TransmissionID, job.Claim)
		if err := claimHeld(res, err); err != nil {
			return err
		}
		return setInbound(ctx, tx, job.TransmissionID, status, response, time.Time{}, results)
	})
}

// ReleaseFaxMail gives a claim back untried (the daemon is stopping): the
// mail is due again at once, its tries unchanged.
func (db *DB) ReleaseFaxMail(ctx context.Context, job FaxMailJob) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE fax_mails SET claim = '', claimed_at = 0 WHERE transmission_id = ? AND claim = ?`,
			job.TransmissionID, job.Claim)
		return claimHeld(res, err)
	})
}

// RecoverFaxMails frees the claims a previous run left (it stopped, or
// was killed, while mailing): at boot one dialerd owns the store, and every
// fax not yet mailed is tried again when due. It returns how many faxes
// are waiting to be mailed.
func (db *DB) RecoverFaxMails(ctx context.Context) (int, error) {
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE fax_mails SET claim = '', claimed_at = 0 WHERE claim <> ''`); err != nil {
			return fmt.Errorf("store: recover fax mails: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM fax_mails`).Scan(&n)
	})
	return n, err
}

func claimHeld(res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("store: fax mail: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: fax mail: %w", err)
	}
	if n == 0 {
		return ErrFaxMailClaimLost
	}
	return nil
}
