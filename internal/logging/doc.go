// Package logging builds the zap logger from the log.* keys, with iam's
// line keys and time layout, and, on an interactive terminal, a status line
// that the log lines go through (package statusline).
package logging
