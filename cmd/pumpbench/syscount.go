package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallCounter counts one system call in the processes started while it
// was open: a kernel tracepoint counter that children inherit, so the
// count is exact and costs the counted process nothing (no tracer stops
// it). It needs perf events with tracepoints (Linux, root or a
// perf_event_paranoid that allows them).
type syscallCounter struct{ fd int }

// startCounted runs start (an exec.Cmd's Start) with the calls the new
// process makes to syscall counted (the tracepoint
// syscalls/sys_enter_<syscall>). The counter is opened on this goroutine's
// thread, which then forks the process, since only tasks created by that
// thread inherit it. Where no counter can be opened, the process is
// started all the same and the counter is nil, with the reason.
func startCounted(start func() error, syscall string) (*syscallCounter, string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, why := openSyscallCounter(syscall)
	if err := start(); err != nil {
		if c != nil {
			c.close()
		}
		return nil, why, err
	}
	return c, why, nil
}

func openSyscallCounter(syscall string) (*syscallCounter, string) {
	id, err := tracepointID(syscall)
	if errors.Is(err, fs.ErrNotExist) && mountTracefs() == nil {
		id, err = tracepointID(syscall)
	}
	if err != nil {
		return nil, fmt.Sprintf("no %s tracepoint (%v)", syscall, err)
	}
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_TRACEPOINT,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config: id,
		Bits:   unix.PerfBitInherit,
	}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Sprintf("perf_event_open for the %s tracepoint: %v", syscall, err)
	}
	return &syscallCounter{fd: fd}, ""
}

// tracefsDir is where the kernel's tracing files are mounted by default;
// the debugfs path is what older systems have.
const tracefsDir = "/sys/kernel/tracing"

// tracepointID reads the id of the tracepoint syscalls/sys_enter_<syscall>.
func tracepointID(syscall string) (uint64, error) {
	var err error
	for _, dir := range []string{tracefsDir, "/sys/kernel/debug/tracing"} {
		var b []byte
		if b, err = os.ReadFile(dir + "/events/syscalls/sys_enter_" + syscall + "/id"); err == nil {
			return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	return 0, err
}

// mountTracefs mounts tracefs where the kernel offers it, as root can: a
// fresh container has the directory but nothing mounted on it, and would
// otherwise have no fdatasync column. It mounts nothing anywhere else.
func mountTracefs() error {
	if _, err := os.Stat(tracefsDir); err != nil {
		return err
	}
	return unix.Mount("tracefs", tracefsDir, "tracefs", 0, "")
}

// count reads the calls so far of the processes that have exited; read it
// after the counted process was waited for.
func (c *syscallCounter) count() (int64, error) {
	var b [8]byte
	n, err := unix.Read(c.fd, b[:])
	if err != nil {
		return 0, fmt.Errorf("read the system call counter: %w", err)
	}
	if n != len(b) {
		return 0, errors.New("read the system call counter: short read")
	}
	return int64(binary.NativeEndian.Uint64(b[:])), nil
}

func (c *syscallCounter) close() { _ = unix.Close(c.fd) }
