package dialer

import (
	"context"
	"time"
)

// OptOut is a callee's request, by key press during a call, to be called no
// more. It puts the number on the tenant's default do-not-call list.
type OptOut struct {
	TenantID       string
	Number         string // E.164
	SpoolID        int64
	TransmissionID int64
	CampaignID     int64
	Digit          string
	At             time.Time
}

// OptOutRecorder makes an opt-out durable (the store). The engine calls it
// from Attempt.OptOut, off its loop, and adds the number to its in-memory
// suppression at once so no later dispatch dials it.
type OptOutRecorder interface {
	RecordOptOut(ctx context.Context, o OptOut) error
}
