package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against the machine's
// PostgreSQL through a proxy that can cut or silence it.
func TestConformance(t *testing.T) {
	_, dsn := createDB(t)
	px := sinktest.StartProxy(t, "127.0.0.1:5432")
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"dsn": strings.Replace(dsn, "127.0.0.1:5432", px.Addr, 1)},
		Read: func(t *testing.T) []analytics.Record {
			var out []analytics.Record
			for _, r := range readAll(t, connect(t, dsn), DefaultTable) {
				out = append(out, r.Record)
			}
			return out
		},
		Break: px.Break,
		Stall: px.Stall,
		// timestamptz holds microseconds: iam's nanoseconds are cut.
		Golden: func(w analytics.Record) analytics.Record {
			w.ExpireAt = w.ExpireAt.Truncate(time.Microsecond)
			return w
		},
	})
}
