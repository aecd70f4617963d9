//go:build !linux

package appendfile

import "os"

// datasync is the portable fsync where there is no fdatasync.
func datasync(f *os.File) error { return f.Sync() }
