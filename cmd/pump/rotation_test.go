//go:build linux

package main

// Log rotation under a running drain: the file sinks must follow the path
// whatever logrotate or an operator does to the file, and a record counts
// as written only when it is in a file that is still on disk.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	csvsink "github.com/pumpd/pump/pumps/csv"
)

const rotationBatch = 200

// fileSink is a file sink under test: where it writes and how to read the
// record ids back from one of its files.
type fileSink struct {
	typ     string
	section func(dir string) string // the pumps section
	current func(dir string) []string
	ids     func(t *testing.T, data []byte) []string
}

var fileSinks = []fileSink{
	{
		typ: "jsonl",
		section: func(dir string) string {
			return "  files:\n    type: jsonl\n    meta: {path: " + filepath.Join(dir, "records.jsonl") + "}\n"
		},
		current: func(dir string) []string { return existing(filepath.Join(dir, "records.jsonl")) },
		ids: func(t *testing.T, data []byte) []string {
			t.Helper()
			var out []string
			for _, line := range bytes.Split(completeLines(data), []byte{'\n'}) {
				if len(line) == 0 {
					continue
				}
				var r analytics.Record
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatalf("bad line %q: %v", line, err)
				}
				out = append(out, testutil.IDOf(r))
			}
			return out
		},
	},
	{
		typ: "csv",
		section: func(dir string) string {
			return "  files:\n    type: csv\n    meta: {csv_dir: " + dir + "}\n"
		},
		current: func(dir string) []string {
			files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
			return files
		},
		ids: func(t *testing.T, data []byte) []string {
			t.Helper()
			rows, err := csv.NewReader(bytes.NewReader(completeLines(data))).ReadAll()
			if err != nil {
				t.Fatalf("not valid CSV: %v", err)
			}
			if len(rows) == 0 {
				return nil
			}
			if strings.Join(rows[0], ",") != strings.Join(csvsink.Header, ",") {
				t.Fatalf("file starts with %v, not the header", rows[0])
			}
			var out []string
			for _, row := range rows[1:] {
				_, id, _ := strings.Cut(row[3], "id=")
				out = append(out, id)
			}
			return out
		},
	},
}

func existing(path string) []string {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return []string{path}
}

// completeLines cuts data after its last line break: a file read while the
// pump was stopped in the middle of a batch may end in a partial line.
func completeLines(data []byte) []byte {
	return data[:bytes.LastIndexByte(data, '\n')+1]
}

func countLines(t *testing.T, paths []string) int {
	n := 0
	for _, p := range paths {
		n += testutil.CountLines(t, p)
	}
	return n
}

// rotated moves every current file into dir/rotated, as logrotate's rename
// does (same file system, so the open file keeps its inode), and returns
// the new paths.
func rotated(t *testing.T, files []string, dir string) []string {
	t.Helper()
	into := filepath.Join(dir, "rotated")
	if err := os.MkdirAll(into, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		to := filepath.Join(into, filepath.Base(f)+".1")
		if err := os.Rename(f, to); err != nil {
			t.Fatal(err)
		}
		out = append(out, to)
	}
	return out
}

// TestFileSinksFollowRotationAndLoseNothing drains 40,000 records in
// batches of 200 into a file sink and takes its file away after the first
// 2,000 are written, as logrotate or an operator would; 10,000 more are
// pushed afterwards, so writes after the rotation are certain. In the end
// every record must be in exactly one of the files still on disk (plus,
// for rm, the file's content at the moment it was removed).
func TestFileSinksFollowRotationAndLoseNothing(t *testing.T) {
	testutil.NeedsBinary(t)
	const firstChunk, n = 40_000, 50_000
	type outcome struct {
		lateFiles  []string // files that must not grow after the cut
		lateLines  int      // their line count at the cut
		lateBudget int      // lines they may still get: the batch being written at the cut
		removed    []string // ids of a file removed at the cut
		dupBudget  int      // duplicates allowed: that batch, when the cut fell inside it
	}
	for _, tc := range []struct {
		name string
		cut  func(t *testing.T, p *testutil.Proc, s fileSink, dir string) outcome
	}{
		{"mv and SIGHUP", func(t *testing.T, p *testutil.Proc, s fileSink, dir string) outcome {
			moved := rotated(t, s.current(dir), dir)
			p.Signal(syscall.SIGHUP)
			// The reload finishes the batches in flight before it reopens:
			// from its log line on, nothing more may go to the old file.
			p.WaitOutput(time.Minute, "configuration reloaded")
			return outcome{lateFiles: moved, lateLines: countLines(t, moved)}
		}},
		{"mv without a signal", func(t *testing.T, p *testutil.Proc, s fileSink, dir string) outcome {
			// Stopped, the pump is between two writes or inside one; the
			// one it is inside may still end in the old file.
			p.Signal(syscall.SIGSTOP)
			defer p.Signal(syscall.SIGCONT)
			moved := rotated(t, s.current(dir), dir)
			return outcome{lateFiles: moved, lateLines: countLines(t, moved), lateBudget: rotationBatch}
		}},
		{"rm mid-drain", func(t *testing.T, p *testutil.Proc, s fileSink, dir string) outcome {
			// What the file held when it was removed is what the operator
			// threw away (or archived); stopping the pump draws that line.
			p.Signal(syscall.SIGSTOP)
			defer p.Signal(syscall.SIGCONT)
			var gone []string
			for _, f := range s.current(dir) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				gone = append(gone, s.ids(t, data)...)
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
			return outcome{removed: gone, dupBudget: rotationBatch}
		}},
	} {
		for _, s := range fileSinks {
			t.Run(s.typ+"/"+tc.name, func(t *testing.T) {
				r := testutil.StartRedis(t)
				testutil.Seed(t, r.Client(), key, 0, firstChunk)
				dir := t.TempDir()
				// A second pump taking 25ms a batch paces the drain (a batch
				// is trimmed once both have it, and the file sink runs at
				// most read-ahead batches ahead), so it lasts 5s or more and
				// the cut falls inside it.
				pace := "  pace:\n    type: faulty\n    meta: {path: " + filepath.Join(t.TempDir(), "pace.jsonl") + ", delay: 25ms}\n"
				d := testutil.WriteConfig(t, r.Port, s.section(dir)+pace, "batch-size: 200\nread-ahead: 4\n")
				p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
				testutil.Eventually(t, 2*time.Minute, "2,000 records written", func() bool {
					return countLines(t, s.current(dir)) >= 2000
				})
				leftAtCut := listLen(t, r, key)
				if leftAtCut == 0 {
					t.Fatal("the first 40,000 records drained before the cut: the test proves nothing; slow the pace pump")
				}
				o := tc.cut(t, p, s, dir)
				testutil.Seed(t, r.Client(), key, firstChunk, n)
				testutil.Eventually(t, 2*time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
				p.Signal(syscall.SIGTERM)
				if code := p.Wait(time.Minute); code != 0 {
					t.Fatalf("exit status %d after SIGTERM, want 0", code)
				}

				all := append([]string{}, o.removed...)
				var files []string
				err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
					if err == nil && e.Type().IsRegular() {
						files = append(files, path)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, s.ids(t, data)...)
				}
				late := countLines(t, o.lateFiles) - o.lateLines
				acc := testutil.Tally(all, 0, n)
				t.Logf("%d records still in Redis at the cut; after it %d lines went to the file taken away; "+
					"%d removed with it; %d lost, %d duplicated, files on disk: %d",
					leftAtCut, late, len(o.removed), len(acc.Missing), acc.Duplicates, len(files))
				if len(acc.Missing) > 0 {
					t.Errorf("%d of %d records lost (first %v)", len(acc.Missing), n, first(acc.Missing))
				}
				if acc.Duplicates > o.dupBudget {
					t.Errorf("%d records written twice, want at most %d", acc.Duplicates, o.dupBudget)
				}
				if late > o.lateBudget {
					t.Errorf("%d lines went to the file taken away after the cut, want at most %d", late, o.lateBudget)
				}
				if len(s.current(dir)) == 0 {
					t.Errorf("no file at the sink's path after the drain")
				}
			})
		}
	}
}
