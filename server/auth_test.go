package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pumpd/pump/server"
)

// probes answers the probes as told.
type probes struct{ live, ready error }

func (p probes) Live() error  { return p.live }
func (p probes) Ready() error { return p.ready }

// startServer runs a Server on a free loopback port until the test ends.
func startServer(t *testing.T, o server.Options) (string, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	o.Addr = "127.0.0.1:0"
	o.Logger = zap.New(core)
	if o.Prober == nil {
		o.Prober = probes{}
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pump_test_total", Help: "a counter for the test"})
		c.Inc()
		o.Registry.MustRegister(c)
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + srv.Addr(), logs
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// reloadHandler stands for the admin routes the daemon mounts.
var reloadHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reloaded") })

func TestAdminAuthProtectsAdminRoutesAndLeavesProbesOpen(t *testing.T) {
	const token = "t0ken-with-enough-entropy"
	const password = "pa55 word" // spaces inside a secret are kept
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("  "+token+"\n"), 0o600)
	passwordFile := filepath.Join(dir, "password")
	os.WriteFile(passwordFile, []byte(password+"\n"), 0o600)
	t.Setenv("PUMP_TEST_TOKEN", token+"\n")
	t.Setenv("PUMP_TEST_PASSWORD", password)

	type probe struct {
		auth   string // Authorization header, "" for none
		status int
	}
	bearerChecks := []probe{
		{"", 401},
		{"Bearer guess-1234", 401},
		{"Bearer " + token + "x", 401},
		{"Bearer " + token[:len(token)-1], 401},
		{basic("admin", token), 401},
		{"Bearer " + token, 200},
		{"bearer " + token, 200}, // the scheme is case-insensitive
	}
	basicChecks := []probe{
		{"", 401},
		{basic("admin", "guess-1234"), 401},
		{basic("root", password), 401},
		{basic("admin", password+" "), 401},
		{"Bearer " + password, 401},
		{basic("admin", password), 200},
	}
	cases := []struct {
		name      string
		auth      server.AdminAuth
		challenge string
		checks    []probe
	}{
		{"bearer from env", server.AdminAuth{Type: "bearer", TokenEnv: "PUMP_TEST_TOKEN"}, `Bearer realm="pump"`, bearerChecks},
		{"bearer from file", server.AdminAuth{Type: "bearer", TokenFile: tokenFile}, `Bearer realm="pump"`, bearerChecks},
		{"basic from env", server.AdminAuth{Type: "basic", Username: "admin", PasswordEnv: "PUMP_TEST_PASSWORD"}, `Basic realm="pump", charset="UTF-8"`, basicChecks},
		{"basic from file", server.AdminAuth{Type: "basic", Username: "admin", PasswordFile: passwordFile}, `Basic realm="pump", charset="UTF-8"`, basicChecks},
		{"none", server.AdminAuth{Type: "none"}, "", []probe{{"", 200}, {"Bearer anything", 200}}},
		{"empty type means none", server.AdminAuth{}, "", []probe{{"", 200}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, logs := startServer(t, server.Options{
				HealthPath:  "custom/health",
				Middlewares: []string{"recovery", "logger"},
				Settings:    server.Settings{AdminAuth: c.auth},
				Admin:       map[string]http.Handler{"POST /-/reload": reloadHandler},
				Pprof:       true,
				Status:      func(context.Context) any { return map[string]any{"lease": map[string]bool{"held": true}} },
			})
			for _, path := range []string{"/custom/health", "/healthz", "/readyz"} {
				if resp, _ := get(t, http.MethodGet, base+path, nil); resp.StatusCode != 200 {
					t.Errorf("probe %s without credentials: %d, want 200", path, resp.StatusCode)
				}
			}
			for _, chk := range c.checks {
				header := http.Header{}
				if chk.auth != "" {
					header.Set("Authorization", chk.auth)
				}
				for _, route := range []struct{ method, path, body string }{
					{http.MethodGet, "/metrics", "pump_test_total 1"},
					{http.MethodPost, "/-/reload", "reloaded"},
					{http.MethodGet, "/status", `"held": true`},
					{http.MethodGet, "/debug/pprof/", "goroutine"},
					{http.MethodGet, "/debug/pprof/cmdline", "server.test"},
				} {
					resp, body := get(t, route.method, base+route.path, header)
					if resp.StatusCode != chk.status {
						t.Errorf("%s %s with %q: %d, want %d", route.method, route.path, chk.auth, resp.StatusCode, chk.status)
						continue
					}
					if chk.status == 200 && !strings.Contains(body, route.body) {
						t.Errorf("%s %s: body %q lacks %q", route.method, route.path, body, route.body)
					}
					if chk.status == 401 {
						want := c.challenge
						if strings.HasPrefix(chk.auth, "Bearer ") && strings.HasPrefix(want, "Bearer") {
							want += `, error="invalid_token"`
						}
						if got := resp.Header.Get("WWW-Authenticate"); got != want {
							t.Errorf("WWW-Authenticate = %q, want %q", got, want)
						}
					}
				}
			}
			// Neither the secret nor what a client tried is ever logged.
			for _, e := range logs.All() {
				text := e.Message
				for k, v := range e.ContextMap() {
					text += " " + k + "=" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " "))
				}
				for _, secret := range []string{token, password, "guess-1234"} {
					if strings.Contains(text, secret) {
						t.Errorf("log line holds a secret: %s", text)
					}
				}
			}
			if c.challenge != "" && logs.FilterMessage("admin request refused").Len() == 0 {
				t.Errorf("refused admin requests were not logged")
			}
		})
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

func TestAdminAuthSecretsAreReadAtStartAndErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	t.Setenv("PUMP_TEST_BLANK", "  ")
	os.Unsetenv("PUMP_TEST_UNSET")
	cases := []struct {
		name string
		auth server.AdminAuth
		want string
	}{
		{"unset env", server.AdminAuth{Type: "bearer", TokenEnv: "PUMP_TEST_UNSET"},
			"server.admin-auth.token-env: environment variable PUMP_TEST_UNSET is not set"},
		{"blank env", server.AdminAuth{Type: "bearer", TokenEnv: "PUMP_TEST_BLANK"},
			"server.admin-auth.token-env: environment variable PUMP_TEST_BLANK is empty"},
		{"missing file", server.AdminAuth{Type: "bearer", TokenFile: filepath.Join(dir, "nope")},
			"server.admin-auth.token-file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"empty file", server.AdminAuth{Type: "basic", Username: "admin", PasswordFile: empty},
			"server.admin-auth.password-file: " + empty + " is empty"},
		{"no source", server.AdminAuth{Type: "bearer"},
			"server.admin-auth.token-env: set server.admin-auth.token-env or server.admin-auth.token-file"},
		{"two sources", server.AdminAuth{Type: "basic", Username: "a", PasswordEnv: "X", PasswordFile: empty},
			"server.admin-auth.password-file: set server.admin-auth.password-env or server.admin-auth.password-file, not both"},
		{"basic without user", server.AdminAuth{Type: "basic", PasswordFile: empty},
			"server.admin-auth.username: type basic needs a username without a colon"},
		{"unknown type", server.AdminAuth{Type: "digest"},
			`server.admin-auth.type: want none, bearer or basic, got "digest"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.New(server.Options{Addr: "127.0.0.1:0", HealthPath: "healthz", Prober: probes{},
				Registry: prometheus.NewRegistry(), Settings: server.Settings{AdminAuth: c.auth}})
			if err == nil || err.Error() != c.want {
				t.Fatalf("server.New: %v\nwant: %s", err, c.want)
			}
		})
	}
}

func TestAdminRoutesMayNotTakeOverProbes(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		want    string
	}{
		{"a method-specific probe path", "GET /readyz", `admin route "GET /readyz" takes over the probe /readyz`},
		{"the health path", "HEAD /status", `admin route "HEAD /status" takes over the probe /status`},
		{"a second /metrics", "/metrics", `route "/metrics"`},
		{"a malformed pattern", "FETCH", `route "FETCH"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.New(server.Options{Addr: "127.0.0.1:0", HealthPath: "status", Prober: probes{},
				Registry: prometheus.NewRegistry(), Admin: map[string]http.Handler{c.pattern: reloadHandler}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("server.New: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestProbesTellTheTruthBehindEveryMiddleware(t *testing.T) {
	t.Setenv("PUMP_TEST_PROBE_TOKEN", "x")
	base, _ := startServer(t, server.Options{
		HealthPath:  "healthz",
		Middlewares: []string{"recovery", "requestid", "logger", "secure", "nocache", "cors", "timeout"},
		Settings: server.Settings{
			RequestTimeout: 5 * time.Second,
			CORS:           server.CORS{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
			AdminAuth:      server.AdminAuth{Type: "bearer", TokenEnv: "PUMP_TEST_PROBE_TOKEN"},
		},
		Prober: probes{ready: errors.New("redis unreachable")},
	})
	resp, body := get(t, http.MethodGet, base+"/readyz", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "redis unreachable") {
		t.Errorf("/readyz: %d %q, want 503 naming the cause", resp.StatusCode, body)
	}
	if resp, _ := get(t, http.MethodGet, base+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

func TestStatusAndPprofAreServedOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		name       string
		opts       server.Options
		status     int // of GET /status
		pprof      int // of GET /debug/pprof/
		statusType string
	}{
		{"neither", server.Options{HealthPath: "healthz"}, 404, 404, ""},
		{"both", server.Options{HealthPath: "healthz", Pprof: true, Status: func(context.Context) any {
			return struct {
				Lease string `json:"lease"`
			}{"free"}
		}}, 200, 200, "application/json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := startServer(t, tt.opts)
			resp, body := get(t, http.MethodGet, base+"/status", nil)
			if resp.StatusCode != tt.status {
				t.Errorf("GET /status: %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 200 && (resp.Header.Get("Content-Type") != tt.statusType || strings.TrimSpace(body) != "{\n  \"lease\": \"free\"\n}") {
				t.Errorf("GET /status: %s %q", resp.Header.Get("Content-Type"), body)
			}
			if resp, _ := get(t, http.MethodGet, base+"/debug/pprof/", nil); resp.StatusCode != tt.pprof {
				t.Errorf("GET /debug/pprof/: %d, want %d", resp.StatusCode, tt.pprof)
			}
		})
	}
}
