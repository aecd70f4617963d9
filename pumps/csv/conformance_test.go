package csv

import (
	"path/filepath"
	"testing"

	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes (its files are read back by
// the golden test of csv_test.go, which checks the quoting too).
func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	sinktest.Run(t, sinktest.Target{
		New:   func() pumps.Sink { return New() },
		Meta:  pumps.Meta{"csv_dir": dir},
		Break: sinktest.BlockDir(dir),
	})
}
