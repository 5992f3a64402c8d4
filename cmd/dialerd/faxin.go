package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/store"
)

// FaxMailer mails the PDF of a fax received for a faxtoemail program to
// the receiving account's address, through the tenant's email provider.
// The Outcome is the SMTP server's reply, judged by the cause table
// (dialer.Classify) like any sendemail; an error (no provider, the server
// unreachable) by dialer.ClassifyError. Either becomes the transmission's.
// Without one such faxes are kept as documents and their transmissions
// fail naming the missing mailer.
type FaxMailer interface {
	MailFax(ctx context.Context, f FaxMail) (dialer.Outcome, error)
}

// FaxMail is one received fax to mail.
type FaxMail struct {
	TenantID string
	To       string // the receiving account's email address
	PDFPath  string
	From     string // the caller's number as the trunk sent it
	DID      string
	Pages    int
	CallUUID string
}

// faxInbox receives the faxes FreeSWITCH nodes take (esl.FaxReceiver):
// the one inbound resolver decides who receives them, ReceiveFax records
// them, and faxtoemail's are mailed by the fax mail queue.
type faxInbox struct {
	db       *store.DB
	messages *store.Messages
	toPDF    func(ctx context.Context, tiff io.Reader, pdf io.Writer) error // nil: no tiff2pdf
	mail     *faxMailQueue                                                  // nil: faxes to mail wait for the next run's
	log      *slog.Logger
}

// errNoMailer is a faxtoemail transmission's failure without a mailer:
// the daemon's configuration, not the fax.
var errNoMailer = errors.New("no mailer for faxtoemail: the fax is kept as a document but not mailed")

// AcceptFax implements esl.FaxReceiver.
func (f *faxInbox) AcceptFax(ctx context.Context, did string) (bool, error) {
	if f.toPDF == nil {
		return false, fmt.Errorf("media.tiff2pdf: tiff2pdf is not installed; faxes cannot be kept as PDF")
	}
	_, err := f.db.FaxDestination(ctx, did)
	if errors.Is(err, dialer.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// FaxReceived implements esl.FaxReceiver.
func (f *faxInbox) FaxReceived(ctx context.Context, r esl.ReceivedFax) {
	got, err := f.messages.ReceiveFax(ctx, store.InboundFax{From: r.From, To: r.To, TIFFPath: r.Path, Success: r.Success,
		ResultCode: r.ResultCode, ResultText: r.ResultText, Pages: r.Pages, CallUUID: r.CallUUID, Start: r.Answered, End: r.End}, f.toPDF)
	if err != nil {
		f.log.Error("inbound fax not recorded", "call_uuid", r.CallUUID, "to", r.To, "err", err)
		return
	}
	f.log.Info("inbound fax", "transmission", got.TransmissionID, "status", got.Status, "pages", r.Pages, "code", r.ResultCode)
	if !got.MailPending {
		return
	}
	if f.mail == nil {
		f.log.Error("faxtoemail: no mail queue; the fax waits to be mailed", "transmission", got.TransmissionID)
		return
	}
	// Recorded as to be mailed: tried now, and again by the queue's loop
	// if every provider refuses it for now or the daemon stops first.
	f.mail.try(ctx, got.TransmissionID)
}

// faxDir is where rxfax writes inbound faxes: <data_dir>/fax-in, group
// writable so that a FreeSWITCH in dialerd's group can write it.
func faxDir(dataDir string) (string, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, "fax-in"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return "", fmt.Errorf("fax-in directory: %w", err)
	}
	return dir, nil
}
