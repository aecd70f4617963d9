package jsonl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// With fsync on, Write only writes (its lines are in the file, read back
// at once) and Sync makes all of them durable with one fdatasync; with
// fsync off neither syncs.
func TestWriteLeavesTheSyncToSync(t *testing.T) {
	for _, tc := range []struct {
		name  string
		meta  pumps.Meta
		syncs int64 // fdatasync calls of the one Sync after three Writes
	}{
		{"fsync by default", pumps.Meta{}, 1},
		{"fsync on", pumps.Meta{"fsync": true}, 1},
		{"fsync off", pumps.Meta{"fsync": false}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			meta := pumps.Meta{"path": path}
			for k, v := range tc.meta {
				meta[k] = v
			}
			j := testutil.StartSink(t, &JSONL{}, meta)
			for i := 0; i < 3; i++ {
				if err := testutil.Write(t, j, testutil.GoldenDecoded(t)); err != nil {
					t.Fatal(err)
				}
			}
			if n := j.file.Syncs(); n != 0 {
				t.Fatalf("%d fdatasync calls in three Writes, want none: Sync syncs", n)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Count(string(b), "\n"), 3*len(testutil.GoldenDecoded(t)); got != want {
				t.Fatalf("%d lines in the file after three Writes, want %d", got, want)
			}
			if err := j.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := j.file.Syncs(); n != tc.syncs {
				t.Fatalf("%d fdatasync calls after Sync, want %d", n, tc.syncs)
			}
		})
	}
}
