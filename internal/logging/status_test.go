package logging

import (
	"path/filepath"
	"testing"

	"github.com/pumpd/pump/config"
)

// The status line itself is tested on a real pseudo-terminal in cmd/pump
// (TestStatusLineOnATerminalNeverGarblesLogOrRecordLines); here: never one
// off a terminal or in CI.
func TestNoStatusLineOffATerminalOrInCI(t *testing.T) {
	t.Setenv("CI", "true")
	for _, paths := range []config.StringList{
		{filepath.Join(t.TempDir(), "pump.log")},
		{"stderr"},
		{"stdout", "stderr"},
	} {
		c := config.Default().Log
		c.OutputPaths = paths
		log, line, err := NewWithStatus(c)
		if err != nil {
			t.Fatal(err)
		}
		if line != nil {
			t.Errorf("output-paths %v: a status line", paths)
		}
		_ = log.Sync()
	}
}
