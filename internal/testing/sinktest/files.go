package sinktest

import (
	"os"
	"testing"
)

// BlockDir returns a Break for a sink that writes under dir: a plain file
// where the directory should be, so nothing can be created there, until
// restore removes it.
func BlockDir(dir string) func(t *testing.T) (restore func()) {
	return func(t *testing.T) func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}
	}
}
