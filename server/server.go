package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/pumpd/pump/server/limits"
)

// Prober answers the probes.
type Prober interface {
	Live() error
	Ready() error
}

// ReadyNoter is a Prober whose passing readiness answer says more than
// "ok": what works but needs a look (a pump down whose records are parked).
type ReadyNoter interface {
	ReadyNote() string
}

// Options configure the server.
type Options struct {
	Addr        string
	HealthPath  string // iam's health-check-path, with or without the slash
	Middlewares []string
	// Settings hold the rest of the server section: CORS, request timeout
	// and admin authentication.
	Settings Settings
	// Admin routes are served behind the admin authentication, like
	// /metrics. Keys are http.ServeMux patterns such as "POST /-/reload";
	// none may take over a probe.
	Admin map[string]http.Handler
	// Pprof serves Go's profiles on /debug/pprof/, behind the admin
	// authentication.
	Pprof bool
	// Status, when set, serves GET /status behind the admin authentication:
	// what it returns, as JSON.
	Status   func(context.Context) any
	Prober   Prober
	Registry *prometheus.Registry
	Logger   *zap.Logger
}

// Settings are the server.* keys beyond the middleware names.
type Settings struct {
	CORS           CORS
	RequestTimeout time.Duration // for the timeout middleware
	AdminAuth      AdminAuth
}

// CORS is what the cors middleware allows, server.cors.
type CORS struct {
	AllowedOrigins   []string // "*" or scheme://host[:port]
	AllowedMethods   []string
	AllowedHeaders   []string
	ExposedHeaders   []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// Server is the daemon's HTTP server.
type Server struct {
	opts       Options
	srv        *http.Server
	limits     limits.Limits
	protected  []string // the routes behind the admin authentication, /metrics aside
	ln         net.Listener
	healthPath string
}

// New builds the routes and the middleware chain and reads the admin
// secret; nothing listens yet. The probes stay open whatever the admin
// authentication says: the kubelet and systemd carry no credentials.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	path := "/" + strings.TrimLeft(o.HealthPath, "/")
	probes := map[string]http.HandlerFunc{
		path:       probe(o.Prober.Live, nil),
		"/readyz":  probe(o.Prober.Ready, readyNote(o.Prober)),
		"/healthz": probe(o.Prober.Live, nil),
	}
	if path == "/readyz" {
		probes[path] = probe(o.Prober.Live, nil) // health-check-path wins, as before
	}
	mux := http.NewServeMux()
	for p, h := range probes {
		mux.Handle(p, h)
	}
	guard, err := newGuard(o.Settings.AdminAuth, o.Logger)
	if err != nil {
		return nil, err
	}
	if o.Registry != nil {
		if err := handle(mux, "/metrics", guard.protect(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))); err != nil {
			return nil, err
		}
	}
	admin := map[string]http.Handler{}
	for p, h := range o.Admin {
		admin[p] = h
	}
	if o.Status != nil {
		admin["GET /status"] = status(o.Status)
	}
	if o.Pprof {
		admin["/debug/pprof/"] = http.HandlerFunc(pprof.Index)
		admin["/debug/pprof/cmdline"] = http.HandlerFunc(pprof.Cmdline)
		admin["/debug/pprof/profile"] = http.HandlerFunc(pprof.Profile)
		admin["/debug/pprof/symbol"] = http.HandlerFunc(pprof.Symbol)
		admin["/debug/pprof/trace"] = http.HandlerFunc(pprof.Trace)
	}
	patterns := make([]string, 0, len(admin))
	for p := range admin {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		if err := handle(mux, p, guard.protect(admin[p])); err != nil {
			return nil, err
		}
	}
	// An admin pattern such as "GET /readyz" would be more specific than
	// the probe's and take it over, behind the authentication: refuse it.
	for p := range probes {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, p, nil)
			if err != nil {
				return nil, fmt.Errorf("health-check-path: %w", err)
			}
			if _, got := mux.Handler(req); got != p {
				return nil, fmt.Errorf("server: admin route %q takes over the probe %s", got, p)
			}
		}
	}
	h, err := Chain(o.Middlewares, Env{Logger: o.Logger, Settings: o.Settings}, mux)
	if err != nil {
		return nil, err
	}
	lim := limits.Default()
	// Longer than the timeout middleware's bound, so its 503 can still be
	// written.
	lim.WriteTimeout = max(lim.WriteTimeout, o.Settings.RequestTimeout+5*time.Second)
	if o.Pprof {
		// pprof refuses a profile as long as the write timeout; its
		// default is 30 seconds.
		lim.WriteTimeout = max(lim.WriteTimeout, pprofWriteTimeout)
	}
	srv := lim.Server(h)
	srv.ErrorLog = zap.NewStdLog(o.Logger)
	return &Server{opts: o, healthPath: path, srv: srv, limits: lim, protected: patterns}, nil
}

// pprofWriteTimeout lets /debug/pprof/profile and /trace run for up to a
// minute.
const pprofWriteTimeout = 65 * time.Second

// status serves what get returns as JSON.
func status(get func(context.Context) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := json.MarshalIndent(get(r.Context()), "", "  ")
		if err != nil {
			http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
	})
}

// handle registers a route, turning the mux's panic on a malformed or
// conflicting pattern into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("server: route %q: %v", pattern, v)
		}
	}()
	if h == nil {
		return fmt.Errorf("server: route %q: no handler", pattern)
	}
	mux.Handle(pattern, h)
	return nil
}

// probe answers 200 "ok" while check passes, with note's text after it
// when there is one, else 503 with why.
func probe(check func() error, note func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ok: %v\n", err)
			return
		}
		if note != nil {
			if n := note(); n != "" {
				fmt.Fprintf(w, "ok; %s\n", n)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	}
}

// readyNote is p's ReadyNote, when it has one.
func readyNote(p Prober) func() string {
	if n, ok := p.(ReadyNoter); ok {
		return n.ReadyNote
	}
	return nil
}

// Start listens and serves in the background. It returns the listen error
// at once (address in use, say) so start-up fails loudly.
func (s *Server) Start() error {
	ln, err := s.limits.Listen(s.opts.Addr)
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

// Protected lists the routes served behind the admin authentication
// beside /metrics, as http.ServeMux patterns, sorted.
func (s *Server) Protected() []string { return s.protected }

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
