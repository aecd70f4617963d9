package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Prober answers the probes.
type Prober interface {
	Live() error
	Ready() error
}

// Options configure the server.
type Options struct {
	Addr        string
	HealthPath  string // iam's health-check-path, with or without the slash
	Middlewares []string
	Prober      Prober
	Registry    *prometheus.Registry
	Logger      *zap.Logger
}

// Server is the daemon's HTTP server.
type Server struct {
	opts       Options
	srv        *http.Server
	ln         net.Listener
	healthPath string
}

// New builds the routes and the middleware chain; nothing listens yet.
func New(o Options) (*Server, error) {
	path := "/" + strings.TrimLeft(o.HealthPath, "/")
	mux := http.NewServeMux()
	mux.HandleFunc(path, probe(o.Prober.Live))
	if path != "/readyz" {
		mux.HandleFunc("/readyz", probe(o.Prober.Ready))
	}
	if path != "/healthz" {
		mux.HandleFunc("/healthz", probe(o.Prober.Live))
	}
	if o.Registry != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	}
	h, err := Chain(o.Middlewares, Env{Logger: o.Logger}, mux)
	if err != nil {
		return nil, err
	}
	return &Server{
		opts:       o,
		healthPath: path,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          zap.NewStdLog(o.Logger),
		},
	}, nil
}

func probe(check func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ok: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}

// Start listens and serves in the background. It returns the listen error
// at once (address in use, say) so start-up fails loudly.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("health-check-address %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error("HTTP server stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr is the address the server listens on (with the real port when the
// configuration asked for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HealthURL is the liveness URL, reachable from this host.
func (s *Server) HealthURL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + s.healthPath
}

// SelfCheck requests the liveness URL until it answers 200 or ctx ends: the
// daemon refuses to run with probes nobody can reach.
func (s *Server) SelfCheck(ctx context.Context) error {
	url := s.HealthURL()
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("health check %s never succeeded: %w", url, last)
		case <-t.C:
		}
	}
}

// Shutdown stops accepting requests and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}
