package appendfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes the appended bytes durable. fdatasync skips flushing
// metadata that does not matter for reading them back (the modification
// time), and costs less than fsync per batch.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
