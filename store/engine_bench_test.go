package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
)

// BenchmarkAttemptAlone is one call's life in the store when calls come
// one at a time (100 a second is one every 10 ms): the write-ahead
// BeginAttempt, which the INVITE waits for, then the answer and the end,
// each in a transaction of its own. ns/op is the store's cost of a call
// at a low rate, where batches do not amortise anything.
//
//	go test ./store -run '^$' -bench AttemptAlone
func BenchmarkAttemptAlone(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "dialerd.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	es := NewEngineStore(db)
	defer es.Close()
	f := dialertest.NewFixtures(b, db.Path())
	tenant := f.Tenant("t1")
	owner := f.User(tenant, "owner", false)
	prog := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	contacts := f.Contacts(tenant, owner, b.N, 0)
	now := time.Unix(1_700_000_000, 0)
	tids := f.Transmissions(tenant, owner, prog, 1, now, contacts)
	b.ResetTimer()
	for i, tid := range tids {
		id, err := es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: tenant, CallUUID: fmt.Sprintf("u-%d", i), At: now})
		if err != nil {
			b.Fatal(err)
		}
		es.Record(dialer.SpoolAnswered{SpoolID: id, At: now})
		if err := es.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		es.Record(dialer.AttemptEnded{SpoolID: id, TransmissionID: tid, TenantID: tenant, SpoolStatus: dialer.SpoolCompleted,
			Response: "NORMAL_CLEARING", Start: now, Connect: now, End: now, Status: dialer.TransmissionCompleted})
		if err := es.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
