package sinktest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections on a loopback address to a real server,
// so a test can take the server away (Break) or make it fall silent
// (Stall) and give it back, without touching the server itself.
type Proxy struct {
	Addr     string // where the sink connects: host:port
	upstream string

	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	gate    chan struct{} // closed while bytes flow; open while stalled
	release func()        // opens the gate of the last Stall
	broken  bool
}

// StartProxy listens on a free loopback port and forwards to upstream
// until the test ends.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	open := make(chan struct{})
	close(open)
	p := &Proxy{upstream: upstream, gate: open}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p.Addr = ln.Addr().String()
	p.listen(ln)
	t.Cleanup(func() {
		p.cut()
		p.mu.Lock()
		release := p.release
		p.mu.Unlock()
		if release != nil {
			release() // so no pipe waits on a gate for ever
		}
	})
	return p
}

func (p *Proxy) listen(ln net.Listener) {
	p.mu.Lock()
	p.ln, p.broken = ln, false
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.broken {
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pipe(up, c)
			go p.pipe(c, up)
		}
	}()
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut stops listening and closes every connection.
func (p *Proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Break takes the server away: connections are cut and new ones refused
// until restore, which listens on the same address again.
func (p *Proxy) Break(t *testing.T) (restore func()) {
	p.cut()
	return func() {
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			t.Fatalf("proxy: listen again on %s: %v", p.Addr, err)
		}
		p.listen(ln)
	}
}

// Stall makes the server silent: connections stay open, and no byte goes
// either way until restore.
func (p *Proxy) Stall(*testing.T) (restore func()) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	p.mu.Lock()
	p.gate, p.release = gate, release
	p.mu.Unlock()
	return release
}
