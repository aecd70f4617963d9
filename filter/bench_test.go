package filter

import (
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// BenchmarkKeep is the cost of one record through an expression, the
// request parsed once per record as in a batch.
func BenchmarkKeep(b *testing.B) {
	recs := make([]analytics.Record, 1000)
	for i := range recs {
		recs[i] = testutil.MakeRecord(i)
	}
	for _, source := range []string{``, `effect == "deny"`, `effect == "deny" && username != "admin"`,
		`timestamp > now() - duration("1h")`, `request.action == "delete"`} {
		m, err := Compile(source)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(source, func(b *testing.B) {
			b.ReportAllocs()
			parsed := new(Requests)
			for n := 0; b.Loop(); n++ {
				i := n % len(recs)
				if i == 0 {
					parsed = new(Requests)
				}
				m.Keep(recs, i, parsed)
			}
		})
	}
}
