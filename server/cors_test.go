package server_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pumpd/pump/server"
)

func TestMiddlewareCORS(t *testing.T) {
	listed := server.CORS{
		AllowedOrigins: []string{"https://grafana.example.com", "HTTP://Admin.Example.com:8080/"},
		AllowedMethods: []string{"GET", "POST"},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
		ExposedHeaders: []string{"X-Request-Id"},
		MaxAge:         10 * time.Minute,
	}
	anyOrigin := listed
	anyOrigin.AllowedOrigins = []string{"*"}
	withCredentials := listed
	withCredentials.AllowCredentials = true

	const absent = "<absent>"
	preflight := func(origin, method, headers string) http.Header {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}}
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		return h
	}
	cases := []struct {
		name    string
		cors    server.CORS
		method  string
		header  http.Header
		status  int
		reached bool // the handler ran
		want    map[string]string
	}{
		{"no Origin: untouched", listed, "GET", nil, 200, true,
			map[string]string{"Access-Control-Allow-Origin": absent, "Vary": "Origin"}},
		{"listed origin may read the answer", listed, "GET", http.Header{"Origin": {"https://grafana.example.com"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": "https://grafana.example.com", "Access-Control-Expose-Headers": "X-Request-Id",
				"Access-Control-Allow-Credentials": absent}},
		{"origins compare without case and trailing slash", listed, "GET", http.Header{"Origin": {"http://admin.example.com:8080"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": "http://admin.example.com:8080"}},
		{"other origin gets no CORS headers", listed, "GET", http.Header{"Origin": {"https://evil.example.net"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Expose-Headers": absent}},
		{"same host, other port is another origin", listed, "GET", http.Header{"Origin": {"https://grafana.example.com:8443"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": absent}},
		{"preflight allowed", listed, "OPTIONS", preflight("https://grafana.example.com", "POST", "authorization, content-type"), 204, false,
			map[string]string{"Access-Control-Allow-Origin": "https://grafana.example.com", "Access-Control-Allow-Methods": "GET, POST",
				"Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600"}},
		{"preflight without headers asked", listed, "OPTIONS", preflight("https://grafana.example.com", "GET", ""), 204, false,
			map[string]string{"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": absent}},
		{"preflight from another origin refused", listed, "OPTIONS", preflight("https://evil.example.net", "GET", ""), 403, false,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Methods": absent}},
		{"preflight for a method not listed refused", listed, "OPTIONS", preflight("https://grafana.example.com", "DELETE", ""), 403, false,
			map[string]string{"Access-Control-Allow-Origin": absent}},
		{"preflight for a header not listed refused", listed, "OPTIONS", preflight("https://grafana.example.com", "GET", "X-Secret"), 403, false,
			map[string]string{"Access-Control-Allow-Origin": absent}},
		{"OPTIONS without a requested method is no preflight", listed, "OPTIONS", http.Header{"Origin": {"https://grafana.example.com"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": "https://grafana.example.com"}},
		{"any origin answers *", anyOrigin, "GET", http.Header{"Origin": {"https://anything.example.org"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"credentials echo the origin", withCredentials, "GET", http.Header{"Origin": {"https://grafana.example.com"}}, 200, true,
			map[string]string{"Access-Control-Allow-Origin": "https://grafana.example.com", "Access-Control-Allow-Credentials": "true"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reached atomic.Bool
			url, _ := serveChain(t, []string{"cors"}, server.Settings{CORS: c.cors}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Store(true)
			}))
			resp, _ := get(t, c.method, url+"/metrics", c.header)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if reached.Load() != c.reached {
				t.Errorf("handler reached = %v, want %v", reached.Load(), c.reached)
			}
			for k, want := range c.want {
				got := strings.Join(resp.Header.Values(k), ", ")
				if want == absent && got != "" {
					t.Errorf("%s = %q, want it absent", k, got)
				} else if want != absent && !(got == want || k == "Vary" && strings.Contains(got, want)) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q: caches would mix answers for different origins", resp.Header.Values("Vary"))
			}
		})
	}
}
