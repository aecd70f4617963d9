package influx

import (
	"strings"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against a real influxd
// through a proxy that can cut or silence it.
func TestConformance(t *testing.T) {
	srv := startInfluxd(t, false)
	srv.query("", "CREATE DATABASE conformance")
	px := sinktest.StartProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"address": "http://" + px.Addr, "database_name": "conformance"},
		Read: func(t *testing.T) []analytics.Record {
			var out []analytics.Record
			for _, p := range srv.points("conformance", "analytics") {
				out = append(out, asRecord(t, p))
			}
			return out
		},
		Break: px.Break,
		Stall: px.Stall,
	})
}
