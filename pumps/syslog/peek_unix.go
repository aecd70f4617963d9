//go:build unix

package syslog

import (
	"net"
	"syscall"
)

// peekClosed looks at a socket without consuming or waiting: closed when
// the peer sent FIN or reset it, pending when bytes are waiting. ok is
// false when c gives no access to its socket.
func peekClosed(c net.Conn) (closed, pending, ok bool) {
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return false, false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true, false, true
	}
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK || rerr == syscall.EINTR:
		case rerr != nil || n == 0:
			closed = true
		default:
			pending = true
		}
		return true // done, never wait for readiness
	})
	if err != nil {
		closed = true
	}
	return closed, pending, true
}
