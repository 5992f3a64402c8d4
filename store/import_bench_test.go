package store

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// writeContactsCSV writes a header and n (at most 8,000,000) distinct valid
// rows to w, one at a time, so neither side ever holds the file. Unless
// sorted, the phone numbers come in a scrambled order, as in a list sorted
// by name, so the phone index grows everywhere rather than at its end.
func writeContactsCSV(w io.Writer, n int, sorted bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("first_name,last_name,phone,email,custom1,timezone\r\n"); err != nil {
		return err
	}
	var line []byte
	for k := range n {
		i := k
		if !sorted {
			i = k * 2_654_437 % 8_000_000 // a permutation: 2,654,437 is prime to 8,000,000
		}
		line = line[:0]
		line = append(line, "Name"...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, ",Family,+1 (212) "...)
		line = strconv.AppendInt(line, int64(200+(i/10000)%800), 10)
		line = append(line, '-')
		line = append(line, strconv.Itoa(10000 + i%10000)[1:]...)
		line = append(line, ",user"...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, "@example.com,\"tier, gold\",America/New_York\r\n"...)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// BenchmarkImport1M imports a million CSV rows into one group through the
// real path (CSV parsing, validation, batched inserts), generated on the fly
// through a pipe. It reports the process's peak RSS (VmHWM).
//
//	go test ./store -run '^$' -bench Import1M -benchtime 1x
func BenchmarkImport1M(b *testing.B) { benchmarkImport(b, 1_000_000, false) }

// BenchmarkImportSorted1M imports numbers that come in ascending order,
// the easy case for the phone index.
func BenchmarkImportSorted1M(b *testing.B) { benchmarkImport(b, 1_000_000, true) }

// BenchmarkImport100k is BenchmarkImport1M at a tenth of the size, for quick checks.
func BenchmarkImport100k(b *testing.B) { benchmarkImport(b, 100_000, false) }

func benchmarkImport(b *testing.B, rows int, sorted bool) {
	for range b.N {
		b.StopTimer()
		db, a, groupID := importFixture(b)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeContactsCSV(pw, rows, sorted)) }()
		b.StartTimer()

		src, err := dialer.NewContactCSV(pr, dialer.NewContactRules("1"))
		if err != nil {
			b.Fatal(err)
		}
		res, err := db.ImportContacts(context.Background(), a, groupID, src, false)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res.Imported != rows || res.Failed != 0 {
			b.Fatalf("imported %d, failed %d (%v)", res.Imported, res.Failed, res.Errors)
		}
		g, err := db.Group(context.Background(), a.TenantID, groupID)
		if err != nil || g.ContactTotal != int64(rows) {
			b.Fatalf("group holds %d contacts (%v), want %d", g.ContactTotal, err, rows)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")

}

func importFixture(tb testing.TB) (*DB, dialer.Actor, int64) {
	tb.Helper()
	db, err := Open(context.Background(), tb.TempDir()+"/dialerd.db")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.Bootstrap(ctx, "admin", "x"); err != nil {
		tb.Fatal(err)
	}
	t, err := db.DefaultTenant(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	a := dialer.Actor{TenantID: t.ID, UserID: 1, Admin: true}
	gid, err := db.CreateGroup(ctx, dialer.Group{TenantID: t.ID, CreatedBy: 1, Name: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	return db, a, gid
}

// peakRSSMiB reads the process's high-water resident set from /proc.
func peakRSSMiB(tb testing.TB) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseFloat(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}
