package dummy

import (
	"testing"

	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes (it has no server).
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Target{New: func() pumps.Sink { return New() }, Meta: pumps.Meta{}})
}
