package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
)

// BenchmarkDashboardPages is what a dashboard does while a campaign dials:
// random pages (50 a page) of a 12,000-transmission campaign and of its
// 12,000-contact group, the campaign and the group themselves, read in parallel while a
// writer commits every 2 ms as the engine does. Every commit makes each
// reader's next transaction start from an empty page cache (SQLite resets
// a WAL reader's cache when the database changed), so this measures the
// cost the API really pays, not a warm-cache best case.
func BenchmarkDashboardPages(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	f := dialertest.NewFixtures(b, db.Path())
	tenant := f.Tenant("t")
	owner := f.User(tenant, "o", true)
	p := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	const n = 12000
	f.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO contacts (tenant_id, created_by, phone, first_name, created_at, updated_at)
		SELECT ?, ?, '+1555' || printf('%07d', i), 'Contact ' || i, 0, 0 FROM n`, n, tenant, owner)
	g := f.Group(tenant, owner)
	f.Exec(`INSERT INTO group_contacts (tenant_id, group_id, contact_id) SELECT tenant_id, ?, contact_id FROM contacts WHERE tenant_id = ?`, g, tenant)
	c := f.Campaign(tenant, owner, p, g, 6000, 1, 60)
	f.Exec(`INSERT INTO transmissions (tenant_id, created_by, title, origin, contact_id, program_id, campaign_id, service_flag,
		direction, status, response, try_allowed, try_done, created_at, updated_at)
		SELECT ?, ?, 'campaign', 'campaign', contact_id, ?, ?, 1, 'outbound', 'completed', 'NORMAL_CLEARING', 1, 1, 0, 0
		FROM contacts WHERE tenant_id = ?`, tenant, owner, p, c, tenant)
	pages := n / 50

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the engine's commits
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := db.w.ExecContext(ctx, `UPDATE transmissions SET updated_at = ? WHERE transmission_id = ?`, i, 1+i%n); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	var seed atomic.Uint64
	scope := dialer.Scope{TenantID: tenant}
	campaign := strconv.FormatInt(c, 10)
	for _, bc := range []struct {
		name string
		read func(off int) error
	}{
		{"transmissions", func(off int) error {
			q := dialer.ListQuery{Filters: map[string]string{"campaign_id": campaign}, Limit: 50, Offset: off}
			ts, err := db.Transmissions(ctx, scope, q)
			if err == nil && len(ts) != 50 {
				err = fmt.Errorf("%d transmissions", len(ts))
			}
			return err
		}},
		{"group-contacts", func(off int) error {
			got := 0
			err := db.EachGroupContact(ctx, tenant, g, dialer.ListQuery{Limit: 50, Offset: off}, func(dialer.Contact) error { got++; return nil })
			if err == nil && got != 50 {
				err = fmt.Errorf("%d contacts", got)
			}
			return err
		}},
		{"campaign", func(int) error {
			cp, err := db.Campaign(ctx, tenant, c)
			if err == nil && cp.Counters.Total != n {
				err = fmt.Errorf("total %d", cp.Counters.Total)
			}
			return err
		}},
		{"group", func(int) error {
			gr, err := db.Group(ctx, tenant, g)
			if err == nil && gr.ContactTotal != n {
				err = fmt.Errorf("contact_total %d", gr.ContactTotal)
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(seed.Add(1), 7))
				for pb.Next() {
					if err := bc.read(rng.IntN(pages) * 50); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	close(stop)
	<-done
}
