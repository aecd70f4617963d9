//go:build linux

package main

// End-to-end tests of the HTTP side: the real binary's middlewares, chosen
// by name in the configuration, and the admin authentication in front of
// /metrics while the probes stay open.

import (
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

const allMiddlewares = "[recovery, requestid, logger, secure, nocache, cors, timeout]"

type httpCheck struct {
	name    string
	method  string
	path    string
	header  http.Header
	status  int
	body    string            // a substring of the answer
	headers map[string]string // header -> regexp its value matches
}

// middlewareHeaders are what every answer carries with allMiddlewares.
var middlewareHeaders = map[string]string{
	"X-Request-Id":           `^[0-9a-f]{24}$`,
	"X-Content-Type-Options": `^nosniff$`,
	"X-Frame-Options":        `^DENY$`,
	"Cache-Control":          `no-store`,
	"Vary":                   `Origin`,
}

func with(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range middlewareHeaders {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func doHTTP(t *testing.T, base string, c httpCheck) {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.status {
		t.Errorf("%s: %s %s answered %d, want %d\n%s", c.name, c.method, c.path, resp.StatusCode, c.status, body)
		return
	}
	if !strings.Contains(string(body), c.body) {
		t.Errorf("%s: body lacks %q:\n%.500s", c.name, c.body, body)
	}
	for k, re := range c.headers {
		got := strings.Join(resp.Header.Values(k), ", ")
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("%s: header %s = %q, want it to match %s", c.name, k, got, re)
		}
	}
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestHTTPMiddlewaresAndAdminAuthThroughTheBinary(t *testing.T) {
	testutil.NeedsBinary(t)
	const token = "e2e-admin-token-6f1c0d"
	const password = "e2e basic pa55"
	passwordFile := testutil.WriteFile(t, "admin-password", password+"\n")
	origin := http.Header{"Origin": {"https://grafana.example.com"}}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	cases := []struct {
		name    string
		server  string
		env     []string
		secrets []string
		checks  []httpCheck
	}{
		{
			name: "bearer from env, every middleware",
			server: "server:\n  middlewares: " + allMiddlewares + "\n" +
				"  cors: {allowed-origins: [https://grafana.example.com]}\n" +
				"  request-timeout: 5s\n" +
				"  admin-auth: {type: bearer, token-env: PUMP_ADMIN_TOKEN}\n",
			env:     []string{"PUMP_ADMIN_TOKEN=" + token},
			secrets: []string{token},
			checks: []httpCheck{
				{name: "liveness open", method: "GET", path: "/healthz", status: 200, body: "ok", headers: middlewareHeaders},
				{name: "readiness open", method: "GET", path: "/readyz", status: 200, body: "ok", headers: middlewareHeaders},
				{name: "metrics without a token", method: "GET", path: "/metrics", status: 401,
					headers: with(map[string]string{"Www-Authenticate": `^Bearer realm="pump"$`})},
				{name: "metrics with a wrong token", method: "GET", path: "/metrics", header: bearer("guess-1234"), status: 401,
					headers: with(map[string]string{"Www-Authenticate": `^Bearer realm="pump", error="invalid_token"$`})},
				{name: "metrics with the token", method: "GET", path: "/metrics", header: bearer(token), status: 200, body: "go_goroutines",
					headers: middlewareHeaders},
				{name: "cross-origin read by a listed origin", method: "GET", path: "/readyz", header: origin, status: 200,
					headers: with(map[string]string{"Access-Control-Allow-Origin": `^https://grafana\.example\.com$`, "Access-Control-Expose-Headers": `X-Request-Id`})},
				{name: "cross-origin read by another origin", method: "GET", path: "/readyz", header: http.Header{"Origin": {"https://evil.example.net"}},
					status: 200, headers: with(map[string]string{"Access-Control-Allow-Origin": `^$`})},
				{name: "preflight needs no token", method: "OPTIONS", path: "/metrics", status: 204,
					header: http.Header{"Origin": {"https://grafana.example.com"}, "Access-Control-Request-Method": {"GET"},
						"Access-Control-Request-Headers": {"authorization"}},
					headers: with(map[string]string{"Access-Control-Allow-Origin": `^https://grafana\.example\.com$`,
						"Access-Control-Allow-Methods": `GET`, "Access-Control-Allow-Headers": `Authorization`})},
				{name: "the client's request id is kept", method: "GET", path: "/healthz", header: http.Header{"X-Request-Id": {"e2e-trace-7"}},
					status: 200, headers: map[string]string{"X-Request-Id": `^e2e-trace-7$`}},
			},
		},
		{
			name: "basic from a file",
			server: "server:\n  middlewares: [recovery, logger]\n" +
				"  admin-auth: {type: basic, username: prometheus, password-file: " + passwordFile + "}\n",
			secrets: []string{password},
			checks: []httpCheck{
				{name: "liveness open", method: "GET", path: "/healthz", status: 200},
				{name: "metrics without credentials", method: "GET", path: "/metrics", status: 401,
					headers: map[string]string{"Www-Authenticate": `^Basic realm="pump"`}},
				{name: "metrics with a wrong password", method: "GET", path: "/metrics", status: 401,
					header: http.Header{"Authorization": {basicAuth("prometheus", "guess-1234")}}},
				{name: "metrics with the password", method: "GET", path: "/metrics", status: 200, body: "go_goroutines",
					header: http.Header{"Authorization": {basicAuth("prometheus", password)}}},
			},
		},
		{
			name:   "no admin auth: metrics open as before",
			server: "server: {middlewares: [recovery]}\n",
			checks: []httpCheck{{name: "metrics open", method: "GET", path: "/metrics", status: 200, body: "go_goroutines"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testutil.StartRedis(t)
			d := testutil.WriteConfig(t, r.Port, "  d: {type: dummy}\n", c.server)
			p := testutil.StartPump(t, c.env, "run", "-c", d.ConfigPath)
			testutil.Eventually(t, time.Minute, "the pump ready", func() bool {
				if p.Exited() {
					t.Fatalf("pump exited:\n%s", p.Output())
				}
				return testutil.HTTPStatus(d.ReadyURL()) == 200
			})
			base := "http://" + d.HealthAddr
			for _, chk := range c.checks {
				doHTTP(t, base, chk)
			}
			if strings.Contains(c.server, "logger") {
				// One access line per request, the refused ones included.
				p.WaitOutput(30*time.Second, `"path": "/metrics", "status": 401`)
				p.WaitOutput(30*time.Second, `"path": "/metrics", "status": 200`)
			}
			p.Signal(syscall.SIGTERM)
			if code := p.Wait(time.Minute); code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			for _, s := range c.secrets {
				if strings.Contains(p.Output(), s) {
					t.Errorf("the pump's output holds the secret %q", s)
				}
			}
		})
	}
}

func TestHTTPConfigErrorsExitTwoNamingTheKey(t *testing.T) {
	testutil.NeedsBinary(t)
	os.Unsetenv("PUMP_E2E_UNSET_TOKEN")
	missing := filepath.Join(t.TempDir(), "no-such-token")
	cases := []struct {
		name   string
		server string
		want   string
	}{
		{"unknown middleware", "server: {middlewares: [recovery, loger]}",
			`server.middlewares[1]: unknown middleware "loger" (did you mean "logger"?)`},
		{"token env not set", "server: {admin-auth: {type: bearer, token-env: PUMP_E2E_UNSET_TOKEN}}",
			`server.admin-auth.token-env: environment variable PUMP_E2E_UNSET_TOKEN is not set`},
		{"token file missing", "server: {admin-auth: {type: bearer, token-file: " + missing + "}}",
			`server.admin-auth.token-file: open ` + missing + `: no such file or directory`},
		{"both token sources", "server: {admin-auth: {type: bearer, token-env: A, token-file: " + missing + "}}",
			`server.admin-auth.token-file: set token-env or token-file, not both`},
		{"no token source", "server: {admin-auth: {type: bearer}}",
			`server.admin-auth.token-env: type bearer needs token-env or token-file`},
		{"basic without a username", "server: {admin-auth: {type: basic, password-env: HOME}}",
			`server.admin-auth.username: type basic needs a username without a colon, got ""`},
		{"unknown auth type", "server: {admin-auth: {type: digest}}",
			`server.admin-auth.type: want none, bearer or basic, got "digest"`},
		{"a secret named without a type", "server: {admin-auth: {token-env: HOME}}",
			`server.admin-auth.type: is none (the default) but token-env is set: want bearer or basic`},
		{"typo in admin-auth", "server: {admin-auth: {type: bearer, token-evn: X}}",
			`server.admin-auth.token-evn: unknown key (did you mean "token-env"?)`},
		{"cors without origins", "server: {middlewares: [cors]}",
			`server.cors.allowed-origins: the cors middleware needs at least one origin`},
		{"cors origin with a path", "server: {middlewares: [cors], cors: {allowed-origins: [https://a.example.com/x]}}",
			`server.cors.allowed-origins[0]: want "*" or scheme://host[:port], got "https://a.example.com/x"`},
		{"cors credentials for any origin", `server: {middlewares: [cors], cors: {allowed-origins: ["*"], allow-credentials: true}}`,
			`server.cors.allow-credentials: browsers refuse credentials with the origin "*"`},
		{"zero request timeout", "server: {middlewares: [timeout], request-timeout: 0s}",
			`server.request-timeout: must be positive, got 0s`},
	}
	// No Redis runs on this port: a bad configuration must stop the pump
	// before it connects anywhere.
	deadRedis := testutil.FreePort(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := testutil.WriteConfig(t, deadRedis, "  d: {type: dummy}\n", c.server)
			for _, cmd := range []string{"run", "validate"} {
				code, out := testutil.RunPump(t, nil, cmd, "-c", d.ConfigPath)
				if code != 2 || !strings.Contains(out, c.want) {
					t.Errorf("pump %s: exit %d, want 2 with %q:\n%s", cmd, code, c.want, out)
				}
			}
		})
	}
}
