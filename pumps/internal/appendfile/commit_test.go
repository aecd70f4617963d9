package appendfile

import (
	"bufio"
	"path/filepath"
	"testing"
)

// Sync does not wait for an Append that runs (here it would deadlock):
// it syncs what the Appends before wrote, and Append itself never syncs.
func TestSyncRunsBesideAnAppendAndAppendNeverSyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	a := newFile(t)
	if err := a.Append(path, lines("a", 1)); err != nil {
		t.Fatal(err)
	}
	err := a.Append(path, func(w *bufio.Writer) error {
		if err := a.Sync(); err != nil {
			return err
		}
		return lines("b", 1)(w)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := a.Syncs(); n != 1 {
		t.Fatalf("%d fdatasync calls for two Appends and one Sync, want 1", n)
	}
	if got, want := content(t, path), header+"a-0\nb-0\n"; got != want {
		t.Errorf("the file holds %q, want %q", got, want)
	}
}
