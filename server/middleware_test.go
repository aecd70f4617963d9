package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pumpd/pump/server"
)

// serveChain serves h behind the named middlewares on a real listener and
// returns its URL and the log lines the middlewares wrote.
func serveChain(t *testing.T, names []string, settings server.Settings, h http.Handler) (string, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	chained, err := server.Chain(names, server.Env{Logger: zap.New(core), Settings: settings}, h)
	if err != nil {
		t.Fatalf("Chain(%v): %v", names, err)
	}
	ts := httptest.NewServer(chained)
	t.Cleanup(ts.Close)
	return ts.URL, logs
}

func get(t *testing.T, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ok")
})

func TestMiddlewareRegistryHasEveryDocumentedName(t *testing.T) {
	names := server.MiddlewareNames()
	for _, want := range []string{"cors", "logger", "nocache", "recovery", "requestid", "secure", "timeout"} {
		if !slices.Contains(names, want) {
			t.Errorf("middleware %q is not registered; have %v", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("MiddlewareNames is not sorted: %v", names)
	}
	for _, m := range server.Middlewares() {
		if m.Description == "" {
			t.Errorf("middleware %s has no description for `pump plugins`", m.Name)
		}
	}
}

func TestMiddlewareChainRefusesUnknownNameWithItsIndex(t *testing.T) {
	_, err := server.Chain([]string{"recovery", "loger"}, server.Env{}, okHandler)
	if err == nil || err.Error() != `server.middlewares[1]: unknown middleware "loger"` {
		t.Fatalf("Chain with an unknown name: %v", err)
	}
}

func TestMiddlewareChainRefusesUnusableSettings(t *testing.T) {
	cases := []struct {
		name     string
		settings server.Settings
		want     string
	}{
		{"timeout", server.Settings{}, "server.request-timeout: must be positive"},
		{"cors", server.Settings{}, "server.cors.allowed-origins: the cors middleware needs at least one origin"},
		{"cors", server.Settings{CORS: server.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}}, "server.cors.allow-credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.Chain([]string{c.name}, server.Env{Settings: c.settings}, okHandler)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestMiddlewareHeaders(t *testing.T) {
	hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
	cases := []struct {
		name   string
		mw     string
		header http.Header // sent
		want   map[string]*regexp.Regexp
	}{
		{"requestid makes an id", "requestid", nil, map[string]*regexp.Regexp{"X-Request-Id": hexID}},
		{"requestid keeps the client's id", "requestid", http.Header{"X-Request-Id": {"trace-42.a_b"}},
			map[string]*regexp.Regexp{"X-Request-Id": regexp.MustCompile(`^trace-42\.a_b$`)}},
		{"requestid replaces an id with spaces", "requestid", http.Header{"X-Request-Id": {"a b"}},
			map[string]*regexp.Regexp{"X-Request-Id": hexID}},
		{"requestid replaces an overlong id", "requestid", http.Header{"X-Request-Id": {strings.Repeat("x", 129)}},
			map[string]*regexp.Regexp{"X-Request-Id": hexID}},
		{"nocache", "nocache", nil, map[string]*regexp.Regexp{
			"Cache-Control": regexp.MustCompile(`no-store`), "Pragma": regexp.MustCompile(`^no-cache$`), "Expires": regexp.MustCompile(`^0$`)}},
		{"secure", "secure", nil, map[string]*regexp.Regexp{
			"X-Content-Type-Options": regexp.MustCompile(`^nosniff$`), "X-Frame-Options": regexp.MustCompile(`^DENY$`),
			"Referrer-Policy": regexp.MustCompile(`^no-referrer$`), "Content-Security-Policy": regexp.MustCompile(`default-src 'none'`)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, _ := serveChain(t, []string{c.mw}, server.Settings{}, okHandler)
			resp, body := get(t, http.MethodGet, url, c.header)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("status %d body %q, want 200 ok", resp.StatusCode, body)
			}
			for k, re := range c.want {
				if v := resp.Header.Get(k); !re.MatchString(v) {
					t.Errorf("%s = %q, want it to match %s", k, v, re)
				}
			}
		})
	}
}

func TestMiddlewareRequestIDReachesTheHandler(t *testing.T) {
	seen := make(chan string, 1)
	url, _ := serveChain(t, []string{"requestid"}, server.Settings{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get(server.RequestIDHeader)
	}))
	resp, _ := get(t, http.MethodGet, url, nil)
	if got := <-seen; got == "" || got != resp.Header.Get(server.RequestIDHeader) {
		t.Errorf("handler saw request id %q, the answer carries %q", got, resp.Header.Get(server.RequestIDHeader))
	}
}

func TestMiddlewareRecovery(t *testing.T) {
	t.Run("a panic becomes a 500 and a log line", func(t *testing.T) {
		url, logs := serveChain(t, []string{"recovery"}, server.Settings{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom")
		}))
		resp, _ := get(t, http.MethodGet, url+"/x", nil)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", resp.StatusCode)
		}
		entries := logs.FilterMessage("HTTP handler panicked").All()
		if len(entries) != 1 || entries[0].ContextMap()["panic"] != "boom" || entries[0].ContextMap()["path"] != "/x" {
			t.Errorf("log entries %+v", entries)
		}
	})
	t.Run("ErrAbortHandler still aborts the connection", func(t *testing.T) {
		url, logs := serveChain(t, []string{"recovery"}, server.Settings{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			t.Fatalf("got status %d, want the connection aborted", resp.StatusCode)
		}
		if n := logs.FilterMessage("HTTP handler panicked").Len(); n != 0 {
			t.Errorf("an abort was logged as a panic %d times", n)
		}
	})
}

func TestMiddlewareLoggerWritesOneAccessLine(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  int64
		bytes   int64
	}{
		{"a body", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }, 200, 5},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
		{"an error status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }, 418, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, logs := serveChain(t, []string{"requestid", "logger"}, server.Settings{}, c.handler)
			resp, _ := get(t, http.MethodPost, url+"/path", http.Header{"X-Request-Id": {"req-1"}})
			if resp.StatusCode != int(c.status) {
				t.Fatalf("status %d", resp.StatusCode)
			}
			entries := logs.FilterMessage("http request").All()
			if len(entries) != 1 {
				t.Fatalf("%d access lines, want 1", len(entries))
			}
			f := entries[0].ContextMap()
			if f["method"] != "POST" || f["path"] != "/path" || f["status"] != c.status || f["bytes"] != c.bytes || f["request_id"] != "req-1" {
				t.Errorf("access line fields %v", f)
			}
			if _, ok := f["took"]; !ok {
				t.Errorf("access line has no duration: %v", f)
			}
		})
	}
}

func TestMiddlewareOrderIsFirstOutermost(t *testing.T) {
	panicky := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	cases := []struct {
		names []string
		lines int // access lines: the logger sees the 500 only outside recovery
	}{
		{[]string{"logger", "recovery"}, 1},
		{[]string{"recovery", "logger"}, 0},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.names, ","), func(t *testing.T) {
			url, logs := serveChain(t, c.names, server.Settings{}, panicky)
			resp, _ := get(t, http.MethodGet, url, nil)
			if resp.StatusCode != 500 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			lines := logs.FilterMessage("http request").All()
			if len(lines) != c.lines {
				t.Fatalf("%d access lines, want %d", len(lines), c.lines)
			}
			if c.lines == 1 && lines[0].ContextMap()["status"] != int64(500) {
				t.Errorf("logged status %v, want 500", lines[0].ContextMap()["status"])
			}
		})
	}
}

func TestMiddlewareTimeout(t *testing.T) {
	const limit = 100 * time.Millisecond
	cancelled := make(chan error, 1)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
	}{
		{"a quick handler answers", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, 200, "ok"},
		{"a slow handler gets 503 and a cancelled context", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
				cancelled <- r.Context().Err()
			case <-time.After(10 * time.Second):
				cancelled <- nil
			}
		}, 503, "request timed out after 100ms\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, _ := serveChain(t, []string{"secure", "timeout"}, server.Settings{RequestTimeout: limit}, c.handler)
			start := time.Now()
			resp, body := get(t, http.MethodGet, url, nil)
			if resp.StatusCode != c.status || body != c.body {
				t.Errorf("status %d body %q, want %d %q", resp.StatusCode, body, c.status, c.body)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("answer took %v", took)
			}
			// Headers set outside the timeout survive its answer.
			if resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("outer middleware's header lost: %v", resp.Header)
			}
			if c.status == 503 {
				if err := <-cancelled; err != context.DeadlineExceeded {
					t.Errorf("handler context ended with %v, want deadline exceeded", err)
				}
			}
		})
	}
}

func TestMiddlewareTimeoutKeepsHeadersTheHandlerAddsTo(t *testing.T) {
	url, _ := serveChain(t, []string{"cors", "timeout"}, server.Settings{
		RequestTimeout: time.Second,
		CORS:           server.CORS{AllowedOrigins: []string{"*"}},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding") // as promhttp does
	}))
	resp, _ := get(t, http.MethodGet, url, http.Header{"Origin": {"https://a.example.com"}})
	if got := resp.Header.Values("Vary"); !slices.Equal(got, []string{"Origin", "Accept-Encoding"}) {
		t.Errorf("Vary = %q, want Origin then Accept-Encoding", got)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
