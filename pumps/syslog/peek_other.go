//go:build !unix

package syslog

import "net"

func peekClosed(net.Conn) (closed, pending, ok bool) { return false, false, false }
