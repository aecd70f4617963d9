package csv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// With fsync on, Write only writes and Sync makes the batches durable:
// the hour's file that is left at the hour's end is synced as it is
// closed, the open one by one fdatasync in Sync. With fsync off nothing
// syncs.
func TestWriteLeavesTheSyncToSyncAndTheLastHourIsSyncedAsItCloses(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fsync         bool
		atClose, sync int64 // fdatasync calls: when the hour changes, after Sync
	}{
		{"fsync on", true, 1, 2},
		{"fsync off", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local)
			c := newCSV(t, pumps.Meta{"csv_dir": dir, "fsync": tc.fsync}, func() time.Time { return now })
			recs := testutil.GoldenDecoded(t)
			for i := 0; i < 2; i++ {
				if err := testutil.Write(t, c, recs); err != nil {
					t.Fatal(err)
				}
			}
			if n := c.file.Syncs(); n != 0 {
				t.Fatalf("%d fdatasync calls in two Writes, want none", n)
			}
			now = now.Add(time.Hour)
			if err := testutil.Write(t, c, recs); err != nil {
				t.Fatal(err)
			}
			if n := c.file.Syncs(); n != tc.atClose {
				t.Fatalf("%d fdatasync calls after the next hour's Write, want %d (the last hour's file, as it closed)", n, tc.atClose)
			}
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := c.file.Syncs(); n != tc.sync {
				t.Fatalf("%d fdatasync calls after Sync, want %d", n, tc.sync)
			}
			rows := 0
			for _, name := range []string{"2026-December-1-9.csv", "2026-December-1-10.csv"} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				rows += strings.Count(string(b), "\n") - 1 // the header
			}
			if want := 3 * len(recs); rows < want {
				t.Fatalf("%d rows in the files, want at least %d (records may hold line breaks)", rows, want)
			}
		})
	}
}
