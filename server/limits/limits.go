package limits

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits are the bounds of one listener.
type Limits struct {
	// MaxHeaderBytes bounds a request's header block: beyond it the server
	// answers 431 and closes, instead of buffering up to net/http's 1 MB.
	MaxHeaderBytes int
	// ReadHeaderTimeout is how long a client may take to send its headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the handler and writing its answer.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxBodyBytes bounds a request body; none of the pump's routes reads
	// one of any size.
	MaxBodyBytes int64
	// MaxConns bounds the connections served at once; further ones wait in
	// the kernel's accept queue, costing the process nothing.
	MaxConns int
}

// Default suits the pump's routes: probes, /metrics and a few admin routes,
// asked for by kubelets, Prometheus and operators, never by browsers with
// large cookies. At most MaxConns connections of at most about
// MaxHeaderBytes plus net/http's 4 KiB read and write buffers each: about
// 15 MB in the worst case.
func Default() Limits {
	return Limits{
		MaxHeaderBytes:    16 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxBodyBytes:      64 << 10,
		MaxConns:          256,
	}
}

// Server returns an http.Server that serves h within l; serve it on
// l.Listener's listener.
func (l Limits) Server(h http.Handler) *http.Server {
	if l.MaxBodyBytes > 0 {
		h = http.MaxBytesHandler(h, l.MaxBodyBytes)
	}
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// Listen listens on the TCP address addr and accepts at most l.MaxConns
// connections at once.
func (l Limits) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return l.Listener(ln), nil
}

// Listener wraps ln so that at most l.MaxConns of its connections are open
// at once (no bound when MaxConns is 0).
func (l Limits) Listener(ln net.Listener) net.Listener {
	if l.MaxConns <= 0 {
		return ln
	}
	return &capped{Listener: ln, slots: make(chan struct{}, l.MaxConns), closed: make(chan struct{})}
}

type capped struct {
	net.Listener
	slots     chan struct{} // one token per open connection
	closed    chan struct{}
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection.
func (c *capped) Accept() (net.Conn, error) {
	select {
	case c.slots <- struct{}{}:
	case <-c.closed:
		return nil, net.ErrClosed
	}
	conn, err := c.Listener.Accept()
	if err != nil {
		<-c.slots
		return nil, err
	}
	return &slotConn{Conn: conn, free: func() { <-c.slots }}, nil
}

// Close also ends an Accept waiting for a slot, so a server's Serve
// returns at shutdown even while every slot is taken.
func (c *capped) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Listener.Close()
}

type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (s *slotConn) Close() error {
	err := s.Conn.Close()
	s.once.Do(s.free)
	return err
}
