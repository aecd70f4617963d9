package stdout

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The sink keeps the promises every sink makes; what it writes is read
// back line by line.
func TestConformance(t *testing.T) {
	var out lockedBuffer
	sinktest.Run(t, sinktest.Target{
		New: func() pumps.Sink {
			s := New()
			s.out = &out
			return s
		},
		Meta: pumps.Meta{},
		Read: func(t *testing.T) []analytics.Record {
			var recs []analytics.Record
			for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if line == "" {
					continue
				}
				var rec analytics.Record
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %d is not a record: %v", i+1, err)
				}
				recs = append(recs, rec)
			}
			return recs
		},
	})
}
