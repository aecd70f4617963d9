package csv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pumpd/pump/analytics"
)

// BenchmarkAppendRecord encodes iam's golden records as CSV rows, one a
// round: the cost analytics' BenchmarkAppendJSON is compared with. It reads
// the records itself rather than through testutil, which runs the go
// command, so that it also runs under an instruction counter that cannot
// follow child processes.
func BenchmarkAppendRecord(b *testing.B) {
	files, err := filepath.Glob("../../../shared/testdata/iam-records/*.msgpack")
	if err != nil || len(files) == 0 {
		b.Fatalf("golden records: %v (%d files)", err, len(files))
	}
	var recs []analytics.Record
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		r, err := analytics.DecodeShared(raw)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendRecord(buf[:0], &recs[i%len(recs)])
	}
}
