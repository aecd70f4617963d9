package prometheus

import (
	"testing"

	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes; it serves, rather than
// sends, so there is no server to break or stall.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"listen_address": "127.0.0.1:0"},
	})
}
