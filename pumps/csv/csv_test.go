package csv

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

func newCSV(t *testing.T, meta pumps.Meta, now func() time.Time) *CSV {
	t.Helper()
	c := &CSV{now: now}
	if err := c.Configure(meta); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	return rows
}

func TestGoldenRecordsRoundTripThroughCSVQuoting(t *testing.T) {
	dir := t.TempDir()
	hour := time.Date(2026, 11, 25, 13, 0, 0, 0, time.Local)
	c := newCSV(t, pumps.Meta{"csv_dir": dir}, func() time.Time { return hour })
	recs := testutil.GoldenDecoded(t)
	if err := c.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "2026-November-25-13.csv"))
	if strings.Join(rows[0], ",") != strings.Join(Header, ",") {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want header + 3", len(rows))
	}
	for i, r := range recs {
		row := rows[i+1]
		want := []string{row[0], r.Username, r.Effect, r.Conclusion, r.Request, r.Policies, r.Deciders}
		for j := 1; j < len(want); j++ {
			if row[j] != want[j] {
				t.Errorf("record %d column %s = %q, want %q", i+1, Header[j], row[j], want[j])
			}
		}
	}
	if !strings.Contains(rows[2][4], `\"quoted\", comma\nnewline`) {
		t.Errorf("record 2's request lost its quotes, comma or escaped newline: %q", rows[2][4])
	}
}

func TestOneFilePerHourAndOneHeaderPerFile(t *testing.T) {
	for _, tc := range []struct {
		format       string // file_name_format; "" is the default
		first, after string // the files of 09:59 and of 10:01
	}{
		{"", "2026-December-1-9.csv", "2026-December-1-10.csv"},
		{"iam", "2026-December-1-9.csv", "2026-December-1-10.csv"},
		{"sortable", "2026-12-01-09.csv", "2026-12-01-10.csv"},
	} {
		t.Run("format="+tc.format, func(t *testing.T) {
			dir := t.TempDir()
			meta := pumps.Meta{"csv_dir": dir, "fsync": false}
			if tc.format != "" {
				meta["file_name_format"] = tc.format
			}
			now := time.Date(2026, 12, 1, 9, 59, 0, 0, time.Local)
			c := newCSV(t, meta, func() time.Time { return now })
			recs := testutil.GoldenDecoded(t)
			for _, step := range []time.Duration{0, 30 * time.Second, 2 * time.Minute} {
				now = now.Add(step)
				if err := c.Write(context.Background(), recs[:1]); err != nil {
					t.Fatal(err)
				}
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 2 {
				t.Fatalf("files %v, want %s and %s", files, tc.first, tc.after)
			}
			first := readCSV(t, filepath.Join(dir, tc.first))
			second := readCSV(t, filepath.Join(dir, tc.after))
			if len(first) != 3 || len(second) != 2 {
				t.Fatalf("09h file has %d rows, 10h file %d: want header+2 and header+1", len(first), len(second))
			}
			// A restart appends to the hour's file without a second header.
			c2 := newCSV(t, meta, func() time.Time { return now })
			if err := c2.Write(context.Background(), recs[:1]); err != nil {
				t.Fatal(err)
			}
			again := readCSV(t, filepath.Join(dir, tc.after))
			if len(again) != 3 || again[2][0] == Header[0] {
				t.Fatalf("after a restart: %d rows, %v", len(again), again)
			}
		})
	}
}

func TestARotatedHourFileIsFollowedWithAHeader(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local)
	c := newCSV(t, pumps.Meta{"csv_dir": dir}, func() time.Time { return now })
	recs := testutil.GoldenDecoded(t)
	path := filepath.Join(dir, "2026-December-1-9.csv")
	if err := c.Write(context.Background(), recs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(context.Background(), recs[2:]); err != nil {
		t.Fatal(err)
	}
	if old := readCSV(t, path+".1"); len(old) != 3 {
		t.Errorf("the rotated file has %d rows, want header+2 and nothing after the rename", len(old))
	}
	rows := readCSV(t, path)
	if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(Header, ",") || rows[1][1] != recs[2].Username {
		t.Errorf("the new file holds %v, want the header and record 3", rows)
	}
}

func TestConfigureNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		meta pumps.Meta
		want string
	}{
		{pumps.Meta{}, "meta.csv_dir: must name the directory"},
		{pumps.Meta{"csv_dir": []any{"a"}}, "meta.csv_dir: want a string, got a list"},
		{pumps.Meta{"csv_dir": "/x", "fsync": "yes please"}, "meta.fsync: want true or false"},
		{pumps.Meta{"csv_dir": "/x", "dir": "/y"}, "meta.dir: unknown key"},
		{pumps.Meta{"csv_dir": "/x", "file_name_format": "2006-01-02"}, `meta.file_name_format: want iam or sortable, got "2006-01-02"`},
	} {
		err := (&CSV{}).Configure(tc.meta)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Configure(%v) = %v, want %q", tc.meta, err, tc.want)
		}
	}
}

func TestUnwritableDirectoryIsATransientError(t *testing.T) {
	// A directory below a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCSV(t, pumps.Meta{"csv_dir": filepath.Join(file, "sub")}, time.Now)
	err := c.Write(context.Background(), testutil.GoldenDecoded(t))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want a transient error", err)
	}
}

// FuzzAppendRow checks the hand-written CSV writer against encoding/csv's
// reader: whatever the fields hold, they read back unchanged.
func FuzzAppendRow(f *testing.F) {
	f.Add("plain", `{"a":"b, c"}`, "line\nbreak", ` lead`, `"`)
	f.Add("", "\r\n", `\.`, "\t", "x")
	f.Fuzz(func(t *testing.T, a, b, c, d, e string) {
		fields := []string{a, b, c, d, e}
		for _, s := range fields {
			if !utf8.ValidString(s) || strings.ContainsRune(s, '\r') {
				return // encoding/csv's reader rewrites \r\n and bad UTF-8; the writer keeps them
			}
		}
		row := AppendRow(nil, fields...)
		got, err := csv.NewReader(strings.NewReader(string(row))).Read()
		if err != nil {
			t.Fatalf("row %q does not parse: %v", row, err)
		}
		if strings.Join(got, "\x00") != strings.Join(fields, "\x00") {
			t.Fatalf("row %q reads back as %q, want %q", row, got, fields)
		}
	})
}
