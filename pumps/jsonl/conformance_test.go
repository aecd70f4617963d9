package jsonl

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes; its file is read back.
func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	path := filepath.Join(dir, "records.jsonl")
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"path": path},
		Read: func(t *testing.T) []analytics.Record {
			b, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil {
				t.Fatal(err)
			}
			var out []analytics.Record
			for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if line == "" {
					continue
				}
				var rec analytics.Record
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %d is not a record: %v", i+1, err)
				}
				out = append(out, rec)
			}
			return out
		},
		Break: sinktest.BlockDir(dir),
	})
}
