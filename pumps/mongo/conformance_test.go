package mongo

import (
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against FerretDB through a
// proxy that can cut or silence it.
func TestConformance(t *testing.T) {
	f := StartFerretDB(t)
	px := sinktest.StartProxy(t, f.addr)
	coll := reader(t, f, "iam", "conformance")
	sinktest.Run(t, sinktest.Target{
		New: func() pumps.Sink {
			m := New()
			m.Log = testLogger(t)
			return m
		},
		Meta: meta("mongodb://"+px.Addr+"/iam", "conformance"),
		Read: func(t *testing.T) []analytics.Record {
			var out []analytics.Record
			for _, d := range readAll(t, coll) {
				out = append(out, d.Record)
			}
			return out
		},
		Break: px.Break,
		Stall: px.Stall,
		// BSON dates hold milliseconds.
		Golden: func(w analytics.Record) analytics.Record {
			w.ExpireAt = w.ExpireAt.Truncate(time.Millisecond)
			return w
		},
	})
}
