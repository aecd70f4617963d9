// Package sinktest is the conformance suite every sink's tests run against
// the sink's real or test server: the life-cycle promises of pumps.Sink that
// the loop relies on (an empty batch, Close before Init, Init again after a
// failure, the write deadline, rejection indices), and the golden records
// read back field by field. Tests only.
package sinktest
