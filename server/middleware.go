package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// MiddlewareInfo describes a registered middleware.
type MiddlewareInfo struct {
	Name        string
	Description string
	// New builds the middleware; it fails when its settings are unusable,
	// naming the key.
	New func(Env) (Middleware, error)
}

// Env is what a middleware may use.
type Env struct {
	Logger   *zap.Logger
	Settings Settings
}

var (
	mwMu       sync.RWMutex
	middleware = map[string]MiddlewareInfo{}
)

// RegisterMiddleware makes a middleware available by name; it panics on a
// duplicate or empty name, a programming error.
func RegisterMiddleware(info MiddlewareInfo) {
	mwMu.Lock()
	defer mwMu.Unlock()
	if info.Name == "" || info.New == nil {
		panic("server: RegisterMiddleware needs a name and a constructor")
	}
	if _, dup := middleware[info.Name]; dup {
		panic("server: middleware registered twice: " + info.Name)
	}
	middleware[info.Name] = info
}

// Middlewares lists the registered middlewares, sorted by name.
func Middlewares() []MiddlewareInfo {
	mwMu.RLock()
	defer mwMu.RUnlock()
	out := make([]MiddlewareInfo, 0, len(middleware))
	for _, m := range middleware {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// MiddlewareNames lists the registered names, sorted.
func MiddlewareNames() []string {
	var names []string
	for _, m := range Middlewares() {
		names = append(names, m.Name)
	}
	return names
}

// Chain builds the named middlewares, the first outermost.
func Chain(names []string, env Env, h http.Handler) (http.Handler, error) {
	if env.Logger == nil {
		env.Logger = zap.NewNop()
	}
	mwMu.RLock()
	defer mwMu.RUnlock()
	for i := len(names) - 1; i >= 0; i-- {
		info, ok := middleware[names[i]]
		if !ok {
			return nil, fmt.Errorf("server.middlewares[%d]: unknown middleware %q", i, names[i])
		}
		mw, err := info.New(env)
		if err != nil {
			return nil, fmt.Errorf("middleware %s: %w", names[i], err)
		}
		h = mw(h)
	}
	return h, nil
}

func init() {
	RegisterMiddleware(MiddlewareInfo{Name: "recovery", Description: "turns a handler panic into a 500 and a log line", New: recovery})
	RegisterMiddleware(MiddlewareInfo{Name: "requestid", Description: "sets X-Request-Id (kept when the client sent one)", New: requestID})
	RegisterMiddleware(MiddlewareInfo{Name: "logger", Description: "one access-log line per request", New: accessLog})
	RegisterMiddleware(MiddlewareInfo{Name: "nocache", Description: "tells clients and proxies not to cache answers", New: noCache})
	RegisterMiddleware(MiddlewareInfo{Name: "secure", Description: "sets defensive security headers", New: secureHeaders})
	RegisterMiddleware(MiddlewareInfo{Name: "cors", Description: "answers CORS preflights and allows the origins in server.cors", New: cors})
	RegisterMiddleware(MiddlewareInfo{Name: "timeout", Description: "answers 503 when a request outlives server.request-timeout", New: timeout})
}

func recovery(env Env) (Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					env.Logger.Error("HTTP handler panicked", zap.String("path", r.URL.Path), zap.Any("panic", v), zap.Stack("stack"))
					http.Error(w, "internal error", http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}, nil
}

// RequestIDHeader carries the request id.
const RequestIDHeader = "X-Request-Id"

// goodRequestID accepts what a client may choose as its request id: up to
// 128 visible ASCII characters, so nothing odd reaches logs or headers.
func goodRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func requestID(Env) (Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !goodRequestID(id) {
				var b [12]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
				r.Header.Set(RequestIDHeader, id)
			}
			w.Header().Set(RequestIDHeader, id)
			next.ServeHTTP(w, r)
		})
	}, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func accessLog(env Env) (Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK // nothing written: net/http answers 200
			}
			env.Logger.Info("http request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", rec.status), zap.Int("bytes", rec.bytes), zap.Duration("took", time.Since(start)),
				zap.String("remote", r.RemoteAddr), zap.String("request_id", r.Header.Get(RequestIDHeader)))
		})
	}, nil
}

func noCache(Env) (Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
			h.Set("Pragma", "no-cache")
			h.Set("Expires", "0")
			next.ServeHTTP(w, r)
		})
	}, nil
}

func secureHeaders(Env) (Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", "default-src 'none'")
			next.ServeHTTP(w, r)
		})
	}, nil
}

// timeout answers 503 when the handler has not finished within
// server.request-timeout; the handler's context is cancelled then.
func timeout(env Env) (Middleware, error) {
	d := env.Settings.RequestTimeout
	if d <= 0 {
		return nil, fmt.Errorf("server.request-timeout: must be positive, got %v", d)
	}
	body := "request timed out after " + d.String() + "\n"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// http.TimeoutHandler gives the handler an empty header map and
			// at the end replaces w's values key by key: a handler adding
			// to Vary would drop the cors middleware's "Vary: Origin".
			// Starting the handler from the headers set so far keeps them.
			outer := w.Header().Clone()
			inner := http.HandlerFunc(func(tw http.ResponseWriter, r *http.Request) {
				h := tw.Header()
				for k, v := range outer {
					h[k] = v
				}
				next.ServeHTTP(tw, r)
			})
			http.TimeoutHandler(inner, d, body).ServeHTTP(w, r)
		})
	}, nil
}

// headerList splits a comma-separated header value into its trimmed,
// non-empty elements.
func headerList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
