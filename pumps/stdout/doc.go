// Package stdout is the stdout sink: every record as a JSON line on the
// daemon's standard output, for containers whose log collector ships it.
package stdout
