package limits

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs l's server for h on a loopback port until the test ends.
// connState, when not nil, watches the server's connections.
func serve(t *testing.T, l Limits, h http.Handler, connState func(net.Conn, http.ConnState)) (addr string, srv *http.Server, served chan error) {
	t.Helper()
	ln, err := l.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = l.Server(h)
	srv.ConnState = connState
	served = make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), srv, served
}

// roundTrip sends raw on a fresh connection and returns the status line.
func roundTrip(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	_, _ = io.WriteString(c, raw) // the server may close before reading it all
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestServerRefusesWhatIsTooLarge(t *testing.T) {
	l := Default()
	addr, _, _ := serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}
	}), nil)
	big := strings.Repeat("a", 2*l.MaxHeaderBytes)
	for _, tt := range []struct{ name, request, want string }{
		{"small request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK"},
		{"headers beyond MaxHeaderBytes", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large"},
		{"body beyond MaxBodyBytes", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + itoa(l.MaxBodyBytes+1) + "\r\n\r\n" + strings.Repeat("b", int(l.MaxBodyBytes)+1),
			"HTTP/1.1 413 Request Entity Too Large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := roundTrip(t, addr, tt.request); got != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestListenerServesAtMostMaxConnsAtOnce(t *testing.T) {
	l := Default()
	l.MaxConns = 2
	var open, most atomic.Int64
	addr, _, _ := serve(t, l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	})
	// Three kept-alive clients at once: the third is answered only after
	// one of the first two hangs up.
	conns := make([]net.Conn, 3)
	answers := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.Contains(line, "200") {
				answers <- i
			}
		}()
	}
	first := <-answers
	conns[first].Close()
	<-answers
	<-answers
	wg.Wait()
	if got := most.Load(); got > 2 {
		t.Errorf("%d connections served at once, want at most 2", got)
	}
}

func TestCloseEndsAnAcceptWaitingForASlot(t *testing.T) {
	l := Default()
	l.MaxConns = 1
	addr, srv, served := serve(t, l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The one slot is taken once the request is answered; Serve now waits
	// for a slot.
	if got := roundTripOn(t, c); got != "HTTP/1.1 200 OK" {
		t.Fatalf("answer %q", got)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Serve still waits for a slot after Close")
	}
}

func roundTripOn(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}
