//go:build pumptest

package main

// The fault-injection sink, only in the binaries the tests build (with the
// pumptest tag): it is not in pumps/all, so `make build` never links it.
import _ "github.com/pumpd/pump/internal/testing/faulty"
