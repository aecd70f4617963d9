package csv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// A batch with a huge record must not leave its buffer pinned in the sink;
// a buffer of ordinary records is kept for the next batch.
func TestHugeRecordBufferIsDroppedAfterItsBatch(t *testing.T) {
	dir := t.TempDir()
	c := newCSV(t, pumps.Meta{"csv_dir": dir, "fsync": false}, time.Now)
	huge := testutil.MakeRecord(1)
	huge.Request = strings.Repeat(`"x",`, 1<<20) // 4 MiB, 6 MiB as CSV
	for _, tc := range []struct {
		name             string
		withHuge         bool
		minKept, maxKept int
	}{
		{"a huge record", true, 0, pumps.MaxKeptBuffer},
		{"ordinary records", false, 1, pumps.MaxKeptBuffer},
	} {
		batch := testutil.Records(t, 0, 3)
		if tc.withHuge {
			batch = append(batch, huge)
		}
		if err := c.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if got := cap(c.buf); got > tc.maxKept || got < tc.minKept {
			t.Errorf("%s: the sink keeps a buffer of %d bytes, want %d-%d", tc.name, got, tc.minKept, tc.maxKept)
		}
	}
}
