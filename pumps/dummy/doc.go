// Package dummy is the dummy sink: it counts records and writes nothing, to
// measure the drain itself.
package dummy
