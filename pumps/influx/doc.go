// Package influx is the influx sink: it writes each record as one point in
// InfluxDB 1.x line protocol to the HTTP /write endpoint, with a small client
// of its own, and finds the points a server refuses so they are rejected
// alone.
package influx
