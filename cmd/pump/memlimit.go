package main

import (
	"math"
	"os"
	"runtime/debug"

	"github.com/pumpd/pump/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from the
// memory-limit key, unless GOMEMLIMIT is set: the runtime has read that
// already, and an operator who sets it means it. Near the limit the
// collector runs more often, so a burst of large records is collected
// before the heap doubles. It returns the limit in force and what set it.
func applyMemoryLimit(limit config.ByteSize) (int64, string) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			return l, "GOMEMLIMIT"
		}
		return 0, "GOMEMLIMIT"
	}
	if limit <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return 0, "memory-limit"
	}
	debug.SetMemoryLimit(int64(limit))
	return int64(limit), "memory-limit"
}
