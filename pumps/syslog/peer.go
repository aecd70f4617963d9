package syslog

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// peerClosed reports whether the receiver has closed a stream connection.
// A syslog receiver never answers, so the first write after it went away
// would land in a dead socket and be reported delivered; checking before
// each batch turns that into a reconnect. The check peeks at the socket
// without blocking (see peekClosed); TLS connections, whose servers do send
// session tickets, have their pending records read with a short deadline.
func peerClosed(c net.Conn) bool {
	raw := c
	tc, isTLS := c.(*tls.Conn)
	if isTLS {
		raw = tc.NetConn()
	}
	closed, pending, ok := peekClosed(raw)
	switch {
	case !ok:
		return readClosed(c) // no raw socket access: fall back to a read
	case closed:
		return true
	case pending && isTLS:
		return readClosed(c) // a ticket, an alert or close_notify
	}
	return false
}

// readClosed reads with a short deadline: a timeout means the connection
// is alive and silent, anything else that it is gone.
func readClosed(c net.Conn) bool {
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return true
	}
	var b [512]byte
	for {
		_, err := c.Read(b[:])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		if err != nil {
			return true
		}
	}
}
