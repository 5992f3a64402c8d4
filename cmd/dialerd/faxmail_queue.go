package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/store"
)

// faxMailStore keeps the faxes to mail durably (store.DB with
// store.Messages): each try is claimed in the store before the mail is
// sent and its outcome written before the next.
type faxMailStore interface {
	DueFaxMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]int64, error)
	NextFaxMail(ctx context.Context) (time.Time, error)
	ClaimFaxMail(ctx context.Context, id int64, now time.Time, lease time.Duration) (store.FaxMailJob, bool, error)
	DeferFaxMail(ctx context.Context, job store.FaxMailJob, next time.Time, lastError, response string, results []dialer.Result) error
	FinishFaxMail(ctx context.Context, job store.FaxMailJob, status, response string, results []dialer.Result) error
	ReleaseFaxMail(ctx context.Context, job store.FaxMailJob) error
	RecoverFaxMails(ctx context.Context) (int, error)
}

// faxMailDB is faxMailStore on the daemon's store.
type faxMailDB struct {
	*store.DB
	messages *store.Messages
}

func (d faxMailDB) ClaimFaxMail(ctx context.Context, id int64, now time.Time, lease time.Duration) (store.FaxMailJob, bool, error) {
	return d.messages.ClaimFaxMail(ctx, id, now, lease)
}

// faxMailQueue mails received faxes (faxtoemail) durably: once right after
// the fax is recorded, and again from its loop while every email provider
// fails as a route (an SMTP 4xx, no answer), after a growing delay
// (backoff), until maxAge after the fax came; then the transmission fails
// naming the last reply. A recipient's refusal (5xx) or a content fault
// fails it at once, a 2xx completes it.
type faxMailQueue struct {
	store  faxMailStore
	mailer FaxMailer // nil: none, every fax mail fails naming it
	now    func() time.Time
	// backoff is the delay after the n-th route fault in a row
	// (backoff[n-1]), its last entry repeating.
	backoff []time.Duration
	maxAge  time.Duration
	// lease bounds one try (every provider in turn): a claim older than
	// this is over, and the mail may be claimed again.
	lease   time.Duration
	workers int
	log     *slog.Logger
	kick    chan struct{}
}

// faxMailBackoff is the default delay after each route fault in a row:
// 1, 5, 15, 30 minutes, then every hour.
func faxMailBackoff() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
}

// faxMailPoll is the longest the loop sleeps without looking at the store:
// a claim whose try died with its lease is taken again at the latest then.
const faxMailPoll = time.Minute

func newFaxMailQueue(cfg Config, st faxMailStore, mailer FaxMailer, log *slog.Logger) *faxMailQueue {
	return &faxMailQueue{store: st, mailer: mailer, now: time.Now, backoff: faxMailBackoff(), maxAge: cfg.Mail.FaxToEmailMaxAge,
		lease: max(30*time.Minute, 10*cfg.Mail.Timeout), workers: 4, log: log, kick: make(chan struct{}, 1)}
}

// wake makes the loop look at the store again now.
func (q *faxMailQueue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// run tries every fax mail when it is due until ctx is done, starting with
// what a previous run left (stopped or killed between recording a fax and
// mailing it, or while mailing it).
func (q *faxMailQueue) run(ctx context.Context) {
	if n, err := q.store.RecoverFaxMails(ctx); err != nil {
		q.log.Error("faxtoemail: the faxes waiting to be mailed could not be recovered", "err", err)
	} else if n > 0 {
		q.log.Info("faxtoemail: faxes waiting to be mailed", "count", n)
	}
	for ctx.Err() == nil {
		more := q.pass(ctx)
		wait := faxMailPoll
		if more {
			wait = 0
		} else if next, err := q.store.NextFaxMail(ctx); err != nil {
			q.log.Error("faxtoemail: reading the next mail due", "err", err)
		} else if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-q.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// pass tries every fax mail due now, a few at once; more reports that
// there may be more due than it took.
func (q *faxMailQueue) pass(ctx context.Context) (more bool) {
	const batch = 100
	ids, err := q.store.DueFaxMails(ctx, q.now(), q.lease, batch)
	if err != nil {
		q.log.Error("faxtoemail: reading the mails due", "err", err)
		return false
	}
	sem := make(chan struct{}, max(q.workers, 1))
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			q.try(ctx, id)
		}()
	}
	wg.Wait()
	return len(ids) == batch && ctx.Err() == nil
}

// try mails the fax of transmission id once, if nobody else is: the claim
// is written first, the outcome after, before any next try.
func (q *faxMailQueue) try(ctx context.Context, id int64) {
	job, ok, err := q.store.ClaimFaxMail(ctx, id, q.now(), q.lease)
	if err != nil {
		q.log.Error("faxtoemail: claiming a fax to mail", "transmission", id, "err", err)
		return
	}
	if !ok {
		return // not due, mailed already, or being mailed
	}
	// The try must end within its claim, so that no other takes it
	// while this one may still send.
	tctx, cancel := context.WithTimeout(ctx, q.lease*9/10)
	o, mailErr := q.mail(tctx, job)
	cancel()
	q.record(ctx, job, o, mailErr)
}

// mail sends job's PDF, or says why it cannot be (a content fault).
func (q *faxMailQueue) mail(ctx context.Context, job store.FaxMailJob) (dialer.Outcome, error) {
	switch {
	case q.mailer == nil:
		return dialer.Outcome{}, dialer.ContentFault("mail", errNoMailer)
	case job.Email == "":
		return dialer.Outcome{}, dialer.ContentFault("email", errors.New("the account that received the fax has no email address"))
	case job.PDFPath == "":
		return dialer.Outcome{}, dialer.ContentFault("document", errors.New("the fax's document was deleted before it was mailed"))
	}
	return q.mailer.MailFax(ctx, FaxMail{TenantID: job.TenantID, To: job.Email, PDFPath: job.PDFPath, From: job.From,
		DID: job.DID, Pages: job.Pages, CallUUID: job.CallUUID})
}

// record writes the outcome of one try: completed, failed, or deferred to
// the next try while route faults last and the fax is younger than maxAge.
func (q *faxMailQueue) record(ctx context.Context, job store.FaxMailJob, o dialer.Outcome, mailErr error) {
	v := dialer.Classify(o)
	var res []dialer.Result
	if mailErr != nil {
		v = dialer.ClassifyError(mailErr)
		res = []dialer.Result{{Type: "email", Name: "error", Data: mailErr.Error()}}
	} else {
		res = o.Results
	}
	// The outcome is written even when the daemon is stopping: a mail the
	// server took must not be sent again.
	wctx := context.WithoutCancel(ctx)
	log := q.log.With("transmission", job.TransmissionID)
	if v.Disposition != dialer.Completed && ctx.Err() != nil {
		// Stopped mid-try: this try says nothing of the mail, which the
		// next run tries again.
		if err := q.store.ReleaseFaxMail(wctx, job); err != nil {
			log.Error("faxtoemail: a stopped try not released", "err", err)
		}
		return
	}
	reply := lastReply(o, mailErr)
	tries := job.Tries + 1
	now := q.now()
	to := dialer.Result{Type: "email", Name: "to", Data: job.Email}
	tried := dialer.Result{Type: "email", Name: "try", Data: fmt.Sprintf("%d at %s: %s", tries, now.UTC().Format(time.RFC3339), reply)}
	var err error
	switch {
	case v.Disposition == dialer.Completed:
		err = q.store.FinishFaxMail(wctx, job, string(dialer.TransmissionCompleted), v.Cause, append([]dialer.Result{to}, res...))
		log.Info("faxtoemail: mailed", "to", job.Email, "tries", tries, "reply", reply)
	case v.Fault == dialer.FaultRoute && now.Before(job.Received.Add(q.maxAge)):
		next := now.Add(q.delay(tries))
		if deadline := job.Received.Add(q.maxAge); next.After(deadline) {
			next = deadline // the last try at the max age
		}
		response := fmt.Sprintf("mail deferred: %s; next try at %s", reply, next.UTC().Format(time.RFC3339))
		err = q.store.DeferFaxMail(wctx, job, next, reply, response, append(res, tried))
		log.Warn("faxtoemail: every email provider refused the mail for now; it is tried again", "cause", v.Cause,
			"reply", reply, "tries", tries, "next", next)
		q.wake()
	case v.Fault == dialer.FaultRoute:
		response := fmt.Sprintf("%s: not mailed within %s (%d tries); last reply: %s", v.Cause, q.maxAge, tries, reply)
		err = q.store.FinishFaxMail(wctx, job, string(dialer.TransmissionFailed), response, append([]dialer.Result{to}, append(res, tried)...))
		log.Warn("faxtoemail: the fax was not mailed within mail.faxtoemail_max_age; it is kept as a document", "cause", v.Cause,
			"reply", reply, "tries", tries)
	default:
		err = q.store.FinishFaxMail(wctx, job, string(dialer.TransmissionFailed), v.Cause, append([]dialer.Result{to}, res...))
		log.Warn("faxtoemail: the fax was not mailed", "fault", v.Fault.String(), "cause", v.Cause, "err", mailErr, "reply", reply)
	}
	if err != nil {
		log.Error("faxtoemail: the try's outcome was not recorded", "err", err)
		if errors.Is(err, store.ErrFaxMailClaimLost) {
			return
		}
		// Give the claim back so that the mail is tried again soon
		// rather than after its lease.
		if err := q.store.ReleaseFaxMail(wctx, job); err != nil {
			log.Error("faxtoemail: claim not released", "err", err)
		}
	}
}

// delay is the wait after the n-th try in a row refused by every route.
func (q *faxMailQueue) delay(n int) time.Duration {
	if len(q.backoff) == 0 {
		return faxMailPoll
	}
	return q.backoff[min(n, len(q.backoff))-1]
}

// lastReply is what a try got, on one line: the SMTP reply, else the error.
func lastReply(o dialer.Outcome, err error) string {
	s := ""
	for _, r := range o.Results {
		if r.Type == "smtp" && r.Name == "reply" {
			s = r.Data
		}
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	if s == "" {
		s = dialer.Classify(o).Cause
	}
	s = oneLine(s)
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
