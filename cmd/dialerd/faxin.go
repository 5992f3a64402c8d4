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
// the receiving account's address; results are the fax's (code, pages, …)
// for the message. An error is judged by the cause table
// (dialer.ClassifyError): its fault and cause become the transmission's.
// The mail package provides one; without it such faxes are kept as
// documents and their transmissions fail naming the missing mailer.
type FaxMailer interface {
	MailFax(ctx context.Context, to, pdfPath string, results []dialer.Result) error
}

// faxInbox receives the faxes FreeSWITCH nodes take (esl.FaxReceiver):
// the one inbound resolver decides who receives them, ReceiveFax records
// them, and faxtoemail hands the PDF to the mailer.
type faxInbox struct {
	db       *store.DB
	messages *store.Messages
	toPDF    func(ctx context.Context, tiff io.Reader, pdf io.Writer) error // nil: no tiff2pdf
	mailer   FaxMailer                                                      // nil: none
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
	if got.Program != dialer.ProgramFaxToEmail || got.Status != "completed" {
		return
	}
	results := []dialer.Result{{Type: "fax", Name: "from", Data: r.From}, {Type: "fax", Name: "pages", Data: fmt.Sprint(r.Pages)}}
	var mailErr error
	switch {
	case f.mailer == nil:
		mailErr = dialer.ContentFault("mail", errNoMailer)
	case got.Email == "":
		mailErr = dialer.ContentFault("email", errors.New("the account that received the fax has no email address"))
	default:
		mailErr = f.mailer.MailFax(ctx, got.Email, got.PDFPath, results)
	}
	status, response, res := "completed", "NORMAL_CLEARING", []dialer.Result{{Type: "email", Name: "to", Data: got.Email}}
	if mailErr != nil {
		v := dialer.ClassifyError(mailErr)
		status, response = "failed", v.Cause
		res = append(res, dialer.Result{Type: "email", Name: "error", Data: mailErr.Error()})
		f.log.Warn("faxtoemail: the fax was not mailed", "transmission", got.TransmissionID, "fault", v.Fault.String(), "err", mailErr)
	}
	if err := f.db.FinishInbound(ctx, got.TransmissionID, status, response, res); err != nil {
		f.log.Error("faxtoemail: outcome not recorded", "transmission", got.TransmissionID, "err", err)
	}
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
