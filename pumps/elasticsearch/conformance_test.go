package elasticsearch

import (
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against the test's _bulk
// server through a proxy that can cut or silence it.
func TestConformance(t *testing.T) {
	f := startES(t)
	px := sinktest.StartProxy(t, f.srv.Listener.Addr().String())
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"elasticsearch_url": "http://" + px.Addr},
		Read: func(t *testing.T) []analytics.Record {
			f.mu.Lock()
			var docs []map[string]any
			for _, index := range f.docs {
				for _, d := range index {
					docs = append(docs, d)
				}
			}
			f.mu.Unlock()
			var out []analytics.Record
			for _, d := range docs {
				out = append(out, asRecord(t, d))
			}
			return out
		},
		Break: px.Break,
		Stall: px.Stall,
	})
}
