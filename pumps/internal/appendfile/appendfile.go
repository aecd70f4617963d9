// Package appendfile is the durable append used by the file sinks: a batch
// is written through a buffer, flushed and fsynced before Write returns, and
// a batch that fails half-way is cut off again so a retry leaves no torn or
// doubled lines.
package appendfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// File is one output file opened for appending.
type File struct {
	Path string
	f    *os.File
	w    *bufio.Writer
	sync bool
}

// Open opens (creating it and its directory) path for appending. With sync
// every batch is fsynced, so it survives a power cut once Append returns.
func Open(path string, sync bool) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &File{Path: path, f: f, w: bufio.NewWriterSize(f, 256<<10), sync: sync}, nil
}

// Size is the file's current length.
func (a *File) Size() (int64, error) {
	st, err := a.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", a.Path, err)
	}
	return st.Size(), nil
}

// Append runs write against the buffer and makes the result durable. When
// anything fails the file is truncated to where it was, so the caller may
// retry the whole batch.
func (a *File) Append(write func(w *bufio.Writer) error) error {
	start, err := a.Size()
	if err != nil {
		return err
	}
	err = write(a.w)
	if err == nil {
		err = a.w.Flush()
	}
	if err == nil && a.sync {
		err = datasync(a.f)
	}
	if err != nil {
		a.w.Reset(a.f)
		if terr := a.f.Truncate(start); terr != nil {
			return fmt.Errorf("write %s: %w (and truncating the partial batch failed: %v)", a.Path, err, terr)
		}
		return fmt.Errorf("write %s: %w", a.Path, err)
	}
	return nil
}

// Close flushes and closes the file.
func (a *File) Close() error {
	ferr := a.w.Flush()
	if ferr == nil && a.sync {
		ferr = datasync(a.f)
	}
	cerr := a.f.Close()
	if ferr != nil {
		return fmt.Errorf("flush %s: %w", a.Path, ferr)
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", a.Path, cerr)
	}
	return nil
}

// datasync makes the appended bytes durable. fdatasync skips flushing
// metadata that does not matter for reading them back (the modification
// time), and costs less than fsync per batch.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
