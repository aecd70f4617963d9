// Package limits bounds what HTTP clients can make a listener of the pump
// hold: the bytes of a request's headers and body, the time to send them,
// the time a connection may idle, and the connections served at once. The
// daemon's server and the prometheus sink's own listener both use it, so
// no unauthenticated client can grow the process past a container's limit.
package limits
