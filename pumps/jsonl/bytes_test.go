package jsonl

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// A batch with a huge record must not leave its buffer pinned in the sink;
// a buffer of ordinary records is kept for the next batch.
func TestHugeRecordBufferIsDroppedAfterItsBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	j := &JSONL{}
	if err := j.Configure(pumps.Meta{"path": path, "fsync": false}); err != nil {
		t.Fatal(err)
	}
	if err := j.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	huge := testutil.MakeRecord(1)
	huge.Request = strings.Repeat(`"x",`, 1<<20) // 4 MiB, 5 MiB as JSON
	for _, c := range []struct {
		name    string
		size    int
		maxKept int
		minKept int
	}{
		{"a huge record", 4 << 20, pumps.MaxKeptBuffer, 0},
		{"ordinary records", 0, pumps.MaxKeptBuffer, 1},
	} {
		batch := testutil.Records(t, 0, 3)
		if c.size > 0 {
			batch = append(batch, huge)
		}
		if err := j.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if got := cap(j.buf); got > c.maxKept || got < c.minKept {
			t.Errorf("%s: the sink keeps a buffer of %d bytes, want %d-%d", c.name, got, c.minKept, c.maxKept)
		}
	}
	if n := testutil.CountLines(t, path); n != 7 {
		t.Errorf("%d lines written, want 7", n)
	}
}
