package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
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
	New         func(Env) Middleware
}

// Env is what a middleware may use.
type Env struct {
	Logger *zap.Logger
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
	mwMu.RLock()
	defer mwMu.RUnlock()
	for i := len(names) - 1; i >= 0; i-- {
		info, ok := middleware[names[i]]
		if !ok {
			return nil, fmt.Errorf("server.middlewares: unknown middleware %q", names[i])
		}
		h = info.New(env)(h)
	}
	return h, nil
}

func init() {
	RegisterMiddleware(MiddlewareInfo{Name: "recovery", Description: "turns a handler panic into a 500 and a log line", New: recovery})
	RegisterMiddleware(MiddlewareInfo{Name: "requestid", Description: "sets X-Request-Id (kept when the client sent one)", New: requestID})
	RegisterMiddleware(MiddlewareInfo{Name: "logger", Description: "one access-log line per request", New: accessLog})
	RegisterMiddleware(MiddlewareInfo{Name: "nocache", Description: "tells clients and proxies not to cache answers", New: noCache})
	RegisterMiddleware(MiddlewareInfo{Name: "secure", Description: "sets defensive security headers", New: secureHeaders})
}

func recovery(env Env) Middleware {
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
	}
}

// RequestIDHeader carries the request id.
const RequestIDHeader = "X-Request-Id"

func requestID(Env) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if id == "" || len(id) > 128 {
				var b [12]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
				r.Header.Set(RequestIDHeader, id)
			}
			w.Header().Set(RequestIDHeader, id)
			next.ServeHTTP(w, r)
		})
	}
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

func accessLog(env Env) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			env.Logger.Info("http request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", rec.status), zap.Int("bytes", rec.bytes), zap.Duration("took", time.Since(start)),
				zap.String("remote", r.RemoteAddr), zap.String("request_id", r.Header.Get(RequestIDHeader)))
		})
	}
}

func noCache(Env) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
			h.Set("Pragma", "no-cache")
			h.Set("Expires", "0")
			next.ServeHTTP(w, r)
		})
	}
}

func secureHeaders(Env) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", "default-src 'none'")
			next.ServeHTTP(w, r)
		})
	}
}
