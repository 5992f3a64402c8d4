package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// cacheOf reads a pooled connection's statement cache.
func cacheOf(t *testing.T, conn *sql.Conn) *cachedConn {
	t.Helper()
	var cc *cachedConn
	if err := conn.Raw(func(dc any) error {
		var ok bool
		if cc, ok = dc.(*cachedConn); !ok {
			return fmt.Errorf("connection %T has no statement cache", dc)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return cc
}

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	conn, err := db.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE n (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 5; v++ {
		if _, err := conn.ExecContext(ctx, `INSERT INTO n (v) VALUES (?)`, v); err != nil {
			t.Fatal(err)
		}
	}
	cc := cacheOf(t, conn)
	if el := cc.byQuery[`INSERT INTO n (v) VALUES (?)`]; el == nil {
		t.Fatal("the insert was not kept compiled")
	}

	// The same statement, run again while rows of it are open, gets its
	// own compilation and both give their own rows.
	const q = `SELECT v FROM n WHERE v > ? ORDER BY v`
	outer, err := conn.QueryContext(ctx, q, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v int
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		inner, err := conn.QueryContext(ctx, q, 4)
		if err != nil {
			t.Fatal(err)
		}
		var in []int
		for inner.Next() {
			var w int
			if err := inner.Scan(&w); err != nil {
				t.Fatal(err)
			}
			in = append(in, w)
		}
		if err := errors.Join(inner.Err(), inner.Close()); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v, in))
	}
	if err := errors.Join(outer.Err(), outer.Close()); err != nil {
		t.Fatal(err)
	}
	if want := "[3 [5] 4 [5] 5 [5]]"; fmt.Sprint(got) != want {
		t.Fatalf("nested runs of one statement: %v, want %v", got, want)
	}
	// Closed rows free the statement: the next run reuses it, from the start.
	var n int
	if err := conn.QueryRowContext(ctx, q, 0).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rerun: %d, %v", n, err)
	}
	if cs := cc.byQuery[q].Value.(*cachedStmt); cs.busy {
		t.Fatal("the statement stayed busy after its rows closed")
	}

	// A statement that fails to compile is not kept, and the error is the
	// driver's.
	if _, err := conn.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`); err == nil {
		t.Fatal("an insert into a missing table succeeded")
	}
	if _, ok := cc.byQuery[`INSERT INTO nowhere VALUES (1)`]; ok {
		t.Fatal("a statement that failed to compile was cached")
	}

	// The cache is bounded: the least recently used statements go.
	for i := range stmtCacheSize + 50 {
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	if got := cc.order.Len(); got != stmtCacheSize || len(cc.byQuery) != stmtCacheSize {
		t.Fatalf("cache holds %d (%d), want %d", got, len(cc.byQuery), stmtCacheSize)
	}
	if _, ok := cc.byQuery[`SELECT 0`]; ok {
		t.Fatal("the least recently used statement was kept")
	}
}

// BenchmarkPointRead is one API-style read, GET /campaigns/{id}'s query,
// through a pool that keeps statements compiled and one that does not.
func BenchmarkPointRead(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "dialerd.db")
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	plain, err := sql.Open("sqlite", dsn(path, roleReader))
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	q := `SELECT ` + campaignCols + ` FROM campaigns WHERE tenant_id = ? AND campaign_id = ?`
	for _, bc := range []struct {
		name string
		pool *sql.DB
	}{{"cached", db.r}, {"uncached", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.pool.QueryRowContext(ctx, q, "t", 1).Scan(); !errors.Is(err, sql.ErrNoRows) {
					b.Fatal(err)
				}
			}
		})
	}
}
