package appendfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Options say how a File writes.
type Options struct {
	// Sync makes every batch durable (fdatasync) before Append returns, so
	// it survives a power cut.
	Sync bool
	// Header is written first into every file that is empty, a new one
	// after a rotation included.
	Header []byte
}

// attempts bounds how often one batch is written again because its file
// was removed while it was written: once is rotation, three times in a
// row is something deleting the file on purpose, for the loop to retry
// and park.
const attempts = 3

// File appends batches to the file at a path. Before each batch it checks
// that the file it holds open is still the one at the path (device and
// inode, one stat), and opens the path again when it is not: a file moved
// away (logrotate's rename) or removed is left alone, and writing goes on
// in a new file at the path.
type File struct {
	opts Options
	// mu is held by Open, Append and Close. Reopen does not wait for it,
	// so a write stuck in the kernel cannot hold up a reload.
	mu     sync.Mutex
	reopen atomic.Bool // set by Reopen while a write held mu

	path string
	f    *os.File
	info os.FileInfo // of f, for comparing with the path
	w    *bufio.Writer
}

// New returns a File that opens its path on first use.
func New(opts Options) *File {
	return &File{opts: opts}
}

// Open opens path (creating it and its directory) for appending, so a path
// that cannot be written is found at start rather than at the first batch.
func (a *File) Open(path string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.follow(path)
}

// Append runs write against the buffer and makes the result durable in the
// file at path. When anything fails the file is truncated to where it was,
// so the caller may retry the whole batch. When the file was removed while
// the batch went into it (its link count is 0 after the write: the bytes
// are in a file nobody can open again), the batch is written again into
// the file now at the path; write must therefore write the same bytes each
// time it is called.
func (a *File) Append(path string, write func(w *bufio.Writer) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if err := a.follow(path); err != nil {
			return err
		}
		removed, err := a.appendOnce(write)
		if err != nil || !removed {
			return err
		}
		_ = a.closeFile() // its bytes went with it; nothing to flush
		if attempt == attempts {
			return fmt.Errorf("write %s: the file was removed while the batch was written, %d times in a row", path, attempts)
		}
	}
}

// appendOnce writes the batch into the open file and reports whether that
// file was removed meanwhile.
func (a *File) appendOnce(write func(w *bufio.Writer) error) (removed bool, err error) {
	st, err := a.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", a.path, err)
	}
	start := st.Size()
	if start == 0 && len(a.opts.Header) > 0 {
		_, err = a.w.Write(a.opts.Header)
	}
	if err == nil {
		err = write(a.w)
	}
	if err == nil {
		err = a.w.Flush()
	}
	if err == nil && a.opts.Sync {
		err = datasync(a.f)
	}
	if err == nil {
		if st, err = a.f.Stat(); err == nil {
			return links(st) == 0, nil
		}
	}
	a.w.Reset(a.f)
	if terr := a.f.Truncate(start); terr != nil {
		return false, fmt.Errorf("write %s: %w (and truncating the partial batch failed: %v)", a.path, err, terr)
	}
	return false, fmt.Errorf("write %s: %w", a.path, err)
}

// follow makes the open file the one at path: it closes the open file when
// Reopen asked for it, when the path changed, or when the path no longer
// leads to it, and opens the path when no file is open.
func (a *File) follow(path string) error {
	asked := a.reopen.Swap(false)
	if a.f != nil && (asked || path != a.path || !a.atPath()) {
		if err := a.closeFile(); err != nil {
			return err
		}
	}
	if a.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", path, err)
	}
	a.path, a.f, a.info = path, f, info
	if a.w == nil {
		a.w = bufio.NewWriterSize(f, 256<<10)
	} else {
		a.w.Reset(f)
	}
	return nil
}

// atPath reports whether the path still leads to the open file. A path
// that cannot be read (removed, or its directory) does not.
func (a *File) atPath() bool {
	st, err := os.Stat(a.path)
	return err == nil && os.SameFile(st, a.info)
}

// Reopen has the next Append open the path again, and closes the open file
// at once unless a write holds it: after logrotate renamed the file, the
// old one is released on the signal rather than on the next batch. It may
// be called while Append runs.
func (a *File) Reopen() error {
	if !a.mu.TryLock() {
		a.reopen.Store(true)
		return nil
	}
	defer a.mu.Unlock()
	return a.closeFile()
}

// Close flushes and closes the file.
func (a *File) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeFile()
}

// closeFile flushes (the buffer is empty between batches; this is for a
// Close in the middle of nowhere) and closes the open file, if any.
func (a *File) closeFile() error {
	if a.f == nil {
		return nil
	}
	ferr := a.w.Flush()
	if ferr == nil && a.opts.Sync {
		ferr = datasync(a.f)
	}
	cerr := a.f.Close()
	a.f, a.info = nil, nil
	if ferr != nil {
		return fmt.Errorf("flush %s: %w", a.path, ferr)
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", a.path, cerr)
	}
	return nil
}
