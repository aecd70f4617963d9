// Package statusline keeps one status line at the bottom of an interactive
// terminal, redrawn in place, and clears it around every other write to
// that terminal, so the log lines above it are never garbled.
package statusline
