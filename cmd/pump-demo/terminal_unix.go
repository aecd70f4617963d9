//go:build linux || darwin

package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminal is the controlling terminal this program took the foreground
// of, and the process group to give it back to.
type terminal struct {
	tty *os.File
	fg  int
}

// takeTerminal makes this program's own process group the foreground of
// its terminal, when it runs in the foreground of one (under make, say).
// Ctrl-C then reaches this program alone: make would otherwise die of the
// signal itself, whatever the demo's exit status, and the pump would stop
// before the demo let it drain. It returns nil when there is nothing to
// take.
func takeTerminal() *terminal {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	fd := int(tty.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		tty.Close() // in the background: the terminal is not ours to take
		return nil
	}
	if err := unix.Setpgid(0, 0); err != nil {
		tty.Close()
		return nil
	}
	// A process group not yet in the foreground gets SIGTTOU for this.
	signal.Ignore(syscall.SIGTTOU)
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpid()); err != nil {
		_ = unix.Setpgid(0, fg)
		tty.Close()
		return nil
	}
	return &terminal{tty: tty, fg: fg}
}

// restore gives the terminal's foreground back.
func (t *terminal) restore() {
	if t == nil {
		return
	}
	_ = unix.IoctlSetPointerInt(int(t.tty.Fd()), unix.TIOCSPGRP, t.fg)
	t.tty.Close()
}

// ownProcessGroup keeps Ctrl-C away from the pump: the demo forwards the
// stop itself once the pump has drained.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
}
