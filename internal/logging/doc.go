// Package logging builds the zap logger from the log.* keys, with iam's
// line keys and time layout.
package logging
