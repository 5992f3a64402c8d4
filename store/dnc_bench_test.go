package store

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// writeDNCCSV writes a header and n distinct numbers (at most 8,000,000) in
// a scrambled order, half of them with an expiry.
func writeDNCCSV(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("number,expires_at\r\n"); err != nil {
		return err
	}
	var line []byte
	for k := range n {
		i := k * 2_654_437 % 8_000_000
		line = append(line[:0], "+1212"...)
		line = strconv.AppendInt(line, int64(2_000_000+i), 10)
		if k%2 == 0 {
			line = append(line, ",2030-01-01\r\n"...)
		} else {
			line = append(line, ",\r\n"...)
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// BenchmarkImportDNC1M imports a million numbers onto a do-not-call list
// through the real path (CSV parsing, E.164 normalisation, batched
// upserts, the in-memory set kept in step), generated through a pipe.
//
//	go test ./store -run '^$' -bench ImportDNC1M -benchtime 1x
func BenchmarkImportDNC1M(b *testing.B) {
	const rows = 1_000_000
	for range b.N {
		b.StopTimer()
		db, a, _ := importFixture(b)
		ctx := context.Background()
		if err := db.LoadDNC(ctx); err != nil {
			b.Fatal(err)
		}
		l, err := db.CreateDNCList(ctx, a, dialer.DNCList{Name: "bench", Default: true})
		if err != nil {
			b.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeDNCCSV(pw, rows)) }()
		b.StartTimer()
		src, err := dialer.NewDNCCSV(pr, "1", nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := db.ImportDNC(ctx, a, l.ID, src)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res.Imported != rows || res.Failed != 0 {
			b.Fatalf("imported %d, failed %d (%v)", res.Imported, res.Failed, res.Errors)
		}
		if n := db.DNC().Len(); n != rows {
			b.Fatalf("%d numbers in memory, want %d", n, rows)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
}

// BenchmarkImportDNC100k is BenchmarkImportDNC1M at a tenth of the size.
func BenchmarkImportDNC100k(b *testing.B) {
	db, a, _ := importFixture(b)
	ctx := context.Background()
	l, err := db.CreateDNCList(ctx, a, dialer.DNCList{Name: "bench", Default: true})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeDNCCSV(pw, 100_000)) }()
		src, err := dialer.NewDNCCSV(pr, "1", nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.ImportDNC(ctx, a, l.ID, src); err != nil {
			b.Fatal(err)
		}
	}
}
