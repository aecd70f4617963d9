//go:build linux

package syslog

import (
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, over TCP to the test's
// receiver through a proxy that can cut or silence it.
func TestConformance(t *testing.T) {
	rcv := startReceiver(t, "tcp", "rfc5424", "octet-counting")
	px := sinktest.StartProxy(t, rcv.addr)
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"transport": "tcp", "network_addr": px.Addr},
		Read: func(t *testing.T) []analytics.Record {
			msgs, errs := rcv.received()
			for _, err := range errs {
				t.Errorf("receiver: %v", err)
			}
			var out []analytics.Record
			for _, m := range msgs {
				out = append(out, m.record)
			}
			return out
		},
		Break: px.Break,
	})
}
