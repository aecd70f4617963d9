//go:build !linux

package statusline

import "os"

// IsTerminal reports whether f is a terminal; off Linux the status line is
// not drawn, so it says no.
func IsTerminal(*os.File) bool { return false }

// Width returns f's columns, 0 when unknown.
func Width(*os.File) int { return 0 }

// SameTerminal reports whether a and b are open on the same terminal.
func SameTerminal(a, b *os.File) bool { return false }
