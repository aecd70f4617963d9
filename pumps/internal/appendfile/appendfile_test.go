package appendfile

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const header = "header\n"

func newFile(t *testing.T) *File {
	t.Helper()
	a := New(Options{Sync: true, Header: []byte(header)})
	t.Cleanup(func() { a.Close() })
	return a
}

// lines writes "<batch>-0" .. "<batch>-<n-1>", one a line.
func lines(batch string, n int) func(w *bufio.Writer) error {
	return func(w *bufio.Writer) error {
		for i := 0; i < n; i++ {
			if _, err := w.WriteString(batch + "-" + strconv.Itoa(i) + "\n"); err != nil {
				return err
			}
		}
		return nil
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// openPaths lists what this process holds open.
func openPaths(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			out = append(out, target)
		}
	}
	return out
}

// holdsOpen reports whether this process holds target open; a removed
// file shows as "<path> (deleted)".
func holdsOpen(t *testing.T, target string) bool {
	for _, p := range openPaths(t) {
		if p == target {
			return true
		}
	}
	return false
}

func TestAppendFollowsThePathWhateverHappensToTheFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		// takeAway does it to the file at path and returns where its old
		// content still is ("" when nowhere).
		takeAway func(t *testing.T, path string) string
	}{
		{"renamed", func(t *testing.T, path string) string {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			return path + ".1"
		}},
		{"renamed and a new file created", func(t *testing.T, path string) string {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return path + ".1"
		}},
		{"removed", func(t *testing.T, path string) string {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"its directory removed", func(t *testing.T, path string) string {
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out", "records")
			a := newFile(t)
			if err := a.Append(path, lines("a", 2)); err != nil {
				t.Fatal(err)
			}
			old := tc.takeAway(t, path)
			if err := a.Append(path, lines("b", 2)); err != nil {
				t.Fatal(err)
			}
			if got, want := content(t, path), header+"b-0\nb-1\n"; got != want {
				t.Errorf("the file at the path holds %q, want %q", got, want)
			}
			if old != "" {
				if got, want := content(t, old), header+"a-0\na-1\n"; got != want {
					t.Errorf("the file taken away holds %q, want %q and nothing after", got, want)
				}
				if holdsOpen(t, old) {
					t.Errorf("%s is still open", old)
				}
			} else if holdsOpen(t, path+" (deleted)") {
				t.Error("the removed file is still open")
			}
		})
	}
}

func TestABatchWrittenIntoARemovedFileIsWrittenAgainAtThePath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace bool // a new file is at the path when the batch ends
	}{
		{"path empty", false},
		{"path holds a new file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "records")
			a := newFile(t)
			if err := a.Append(path, lines("a", 1)); err != nil {
				t.Fatal(err)
			}
			calls := 0
			err := a.Append(path, func(w *bufio.Writer) error {
				calls++
				if calls == 1 {
					// rm while the batch is being written: the check before
					// it passed, the bytes go to a file nobody can open.
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
					if tc.replace {
						if err := os.WriteFile(path, []byte(header+"other\n"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				return lines("b", 3)(w)
			})
			if err != nil {
				t.Fatalf("Append = %v, want the batch written again", err)
			}
			if calls != 2 {
				t.Errorf("the batch was written %d times, want twice", calls)
			}
			want := header + "b-0\nb-1\nb-2\n"
			if tc.replace {
				want = header + "other\nb-0\nb-1\nb-2\n"
			}
			if got := content(t, path); got != want {
				t.Errorf("the file at the path holds %q, want %q", got, want)
			}
			if holdsOpen(t, path+" (deleted)") {
				t.Error("the removed file is still open")
			}
		})
	}
}

func TestAFileRemovedAtEveryAttemptIsATransientError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	a := newFile(t)
	calls := 0
	err := a.Append(path, func(w *bufio.Writer) error {
		calls++
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		return lines("a", 1)(w)
	})
	if err == nil || !strings.Contains(err.Error(), "removed while the batch was written") {
		t.Fatalf("Append = %v, want an error saying the file kept disappearing", err)
	}
	if calls != attempts {
		t.Errorf("%d attempts, want %d", calls, attempts)
	}
	// The next batch, with the file left alone, goes through.
	if err := a.Append(path, lines("b", 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := content(t, path), header+"b-0\n"; got != want {
		t.Errorf("the file holds %q, want %q", got, want)
	}
}

func TestAFailedBatchIsCutOffAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	a := newFile(t)
	if err := a.Append(path, lines("a", 1)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := a.Append(path, func(w *bufio.Writer) error {
		if err := lines("b", 5000)(w); err != nil { // more than the buffer: some reached the file
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Append = %v, want boom", err)
	}
	if err := a.Append(path, lines("c", 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := content(t, path), header+"a-0\nc-0\n"; got != want {
		t.Errorf("the file holds %q, want %q", got, want)
	}
}

func TestReopenReleasesTheFileAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	a := newFile(t)
	if err := a.Append(path, lines("a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if !holdsOpen(t, path+".1") {
		t.Fatal("the renamed file is not open before Reopen: the test proves nothing")
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	if holdsOpen(t, path+".1") {
		t.Error("the renamed file is still open after Reopen")
	}
	if err := a.Append(path, lines("b", 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := content(t, path), header+"b-0\n"; got != want {
		t.Errorf("the file at the path holds %q, want %q", got, want)
	}
}

func TestReopenDuringAWriteDoesNotWaitAndTakesEffectNextBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	a := newFile(t)
	err := a.Append(path, func(w *bufio.Writer) error {
		// The write holds the file: Reopen must return at once (here it
		// would deadlock otherwise) and leave the reopen to the next batch.
		if err := a.Reopen(); err != nil {
			return err
		}
		return lines("a", 1)(w)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := a.f
	if err := a.Append(path, lines("b", 1)); err != nil {
		t.Fatal(err)
	}
	if a.f == before {
		t.Error("the batch after a Reopen was written through the same open file")
	}
	if got, want := content(t, path), header+"a-0\nb-0\n"; got != want {
		t.Errorf("the file holds %q, want %q", got, want)
	}
}

// BenchmarkAppend appends batches of 1,000 lines of 650 bytes, the size of
// an iam record as JSON, with and without an fdatasync (Sync) after each.
func BenchmarkAppend(b *testing.B) {
	line := []byte(strings.Repeat("x", 649) + "\n")
	for _, sync := range []bool{false, true} {
		b.Run("sync="+strconv.FormatBool(sync), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "records")
			a := New(Options{Sync: sync})
			b.Cleanup(func() { a.Close() })
			write := func(w *bufio.Writer) error {
				for i := 0; i < 1000; i++ {
					if _, err := w.Write(line); err != nil {
						return err
					}
				}
				return nil
			}
			b.SetBytes(int64(1000 * len(line)))
			for i := 0; i < b.N; i++ {
				if err := a.Append(path, write); err != nil {
					b.Fatal(err)
				}
				if err := a.Sync(); err != nil {
					b.Fatal(err)
				}
				if i%100 == 99 {
					b.StopTimer()
					_ = os.Truncate(path, 0) // keep the file small
					b.StartTimer()
				}
			}
		})
	}
}
