//go:build linux

package main

import "bytes"

// runCaptured runs the command line in-process and returns its exit status,
// stdout and stderr.
func runCaptured(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
