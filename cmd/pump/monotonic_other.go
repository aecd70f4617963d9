//go:build !linux

package main

// monotonicUsec is empty off Linux: systemd, the only reader of the
// MONOTONIC_USEC it goes into, runs on Linux alone.
func monotonicUsec() string { return "" }
