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
	// Sync makes File.Sync durable (fdatasync), so what it covers survives
	// a power cut. Append itself never syncs: one Sync covers every batch
	// appended before it (group commit). Without it File.Sync does nothing.
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
	// synced is f for Sync, which does not take mu. syncing is held by
	// Sync while it syncs the file and by whatever closes it, so the file
	// is not closed under a Sync.
	synced  atomic.Pointer[os.File]
	syncing sync.Mutex
	syncs   atomic.Int64 // fdatasync calls, for Syncs

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

// Append runs write against the buffer and writes the result to the file at
// path; Sync makes it durable. When anything fails the file is truncated to where it was,
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
		a.discard() // its bytes went with it
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
	a.synced.Store(f)
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

// Sync makes every batch that Append returned before Sync started durable
// (with Options.Sync; else it does nothing). It does not wait for an
// Append that runs: their bytes are in the open file (Append flushes before
// it returns), and what the running one writes is for the next Sync. A file
// closed before was synced by its closing, which closes it only once that
// sync succeeded.
func (a *File) Sync() error {
	if !a.opts.Sync {
		return nil
	}
	a.syncing.Lock() // keeps the file open until its sync returns
	defer a.syncing.Unlock()
	f := a.synced.Load()
	if f == nil {
		return nil
	}
	return a.syncFile(f)
}

// Syncs is how many fdatasync calls the File made, so the sinks' tests
// see when their bytes were made durable.
func (a *File) Syncs() int64 { return a.syncs.Load() }

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
	if err := a.closeFile(); err != nil {
		a.reopen.Store(true) // still open: the next Append tries again
		return err
	}
	return nil
}

// Close flushes and closes the file.
func (a *File) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeFile()
}

// closeFile flushes (the buffer is empty between batches; this is for a
// Close in the middle of nowhere), syncs (with Options.Sync: the batches
// appended since the last Sync) and closes the open file, if any. When
// that fails the file stays open, so a later Sync or closing tries again:
// closed, its unsynced batches could never be made durable.
func (a *File) closeFile() error {
	if a.f == nil {
		return nil
	}
	if err := a.w.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", a.path, err)
	}
	a.syncing.Lock()
	defer a.syncing.Unlock()
	if a.opts.Sync {
		if err := a.syncFile(a.f); err != nil {
			return fmt.Errorf("close %s: %w", a.path, err)
		}
	}
	cerr := a.f.Close()
	a.f, a.info = nil, nil
	a.synced.Store(nil)
	if cerr != nil {
		return fmt.Errorf("close %s: %w", a.path, cerr)
	}
	return nil
}

// discard closes the open file without syncing: it was removed.
func (a *File) discard() {
	a.syncing.Lock()
	defer a.syncing.Unlock()
	_ = a.f.Close()
	a.f, a.info = nil, nil
	a.synced.Store(nil)
}

// syncFile makes f's appended bytes durable (datasync), counted.
func (a *File) syncFile(f *os.File) error {
	a.syncs.Add(1)
	return datasync(f)
}
