package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// received is one request as the server saw it, body un-gzipped.
type received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// server is a real HTTP server that records every request and answers
// with what respond says for the n-th request (0-based).
type server struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []received
	respond func(w http.ResponseWriter, n int)
}

func startServer(t testing.TB, respond func(w http.ResponseWriter, n int)) *server {
	t.Helper()
	s := &server{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip: "+err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, received{r.Method, r.URL.Path, r.Header.Clone(), b})
	s.mu.Unlock()
	if s.respond == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.respond(w, n)
}

func (s *server) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.reqs...)
}

// status answers every request with code.
func status(code int) func(http.ResponseWriter, int) {
	return func(w http.ResponseWriter, _ int) { w.WriteHeader(code) }
}

// newSink configures and initialises a sink, closed when the test ends.
func newSink(t testing.TB, meta pumps.Meta) *HTTP {
	return testutil.StartSink(t, New(), meta)
}

// parseBody decodes a request body in either format.
func parseBody(t testing.TB, body []byte, ndjson bool) []analytics.Record {
	t.Helper()
	var out []analytics.Record
	if !ndjson {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("body is not a JSON array of records: %v\n%.300s", err, body)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r analytics.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a JSON record: %v\n%.300s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, r)
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		t.Error("NDJSON body does not end with a newline")
	}
	return out
}

func TestConfigureRejectsBadMetaNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"no url", pumps.Meta{}, "meta.url: must not be empty"},
		{"not http", pumps.Meta{"url": "ftp://host/x"}, "meta.url: want an http:// or https:// URL"},
		{"no host", pumps.Meta{"url": "http:///x"}, "meta.url: want an http:// or https:// URL"},
		{"bad format", pumps.Meta{"url": "http://h", "format": "xml"}, "meta.format: want json or ndjson"},
		{"bad method", pumps.Meta{"url": "http://h", "method": "GET"}, "meta.method: want POST, PUT or PATCH"},
		{"bad header name", pumps.Meta{"url": "http://h", "headers": map[string]any{"X Bad": "v"}}, "meta.headers.X Bad: not a valid header name"},
		{"header with a line break", pumps.Meta{"url": "http://h", "headers": map[string]any{"X-A": "v\r\nX-B: w"}}, "meta.headers.X-A: a header value cannot hold a line break"},
		{"header the sink sets", pumps.Meta{"url": "http://h", "headers": map[string]any{"content-encoding": "br"}}, "meta.headers.content-encoding: set by the sink"},
		{"bad env name", pumps.Meta{"url": "http://h", "auth_token_env": "MY-TOKEN"}, "meta.auth_token_env: want the name of an environment variable"},
		{"two authorizations", pumps.Meta{"url": "http://h", "auth_token_env": "T", "headers": map[string]any{"authorization": "Basic x"}}, "meta.auth_token_env: headers already set Authorization"},
		{"zero timeout", pumps.Meta{"url": "http://h", "timeout": 0}, "meta.timeout: must be positive"},
		{"timeout not a duration", pumps.Meta{"url": "http://h", "timeout": "later"}, "meta.timeout: want a duration"},
		{"negative retries", pumps.Meta{"url": "http://h", "max_retries": -1}, "meta.max_retries: must be between 0 and 100"},
		{"zero retry_wait", pumps.Meta{"url": "http://h", "retry_wait": "0s"}, "meta.retry_wait: must be positive"},
		{"gzip not a bool", pumps.Meta{"url": "http://h", "gzip": "maybe"}, "meta.gzip: want true or false"},
		{"typo", pumps.Meta{"url": "http://h", "header": map[string]any{}}, `meta.header: unknown key (did you mean "headers"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Configure = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigureErrorsNeverShowURLCredentials(t *testing.T) {
	for _, u := range []string{"ftp://user:pa55-word@host/x?token=tok-en-123", "http://user:pa55-word@[::1/x?token=tok-en-123"} {
		err := New().Configure(pumps.Meta{"url": u})
		if err == nil {
			t.Fatalf("Configure(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "pa55-word") || strings.Contains(err.Error(), "tok-en-123") {
			t.Errorf("error shows a credential: %v", err)
		}
	}
}

// The sample's content is checked for every sink in pumps/all; here, that
// the sink registers this package's own sample.yaml.
func TestRegisteredWithItsSample(t *testing.T) {
	if info, ok := pumps.Lookup("http"); !ok || info.Sample != sample {
		t.Fatal("http is not registered with its sample")
	}
}

func TestWriteSendsGoldenRecordsInEachFormat(t *testing.T) {
	decoded, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	tests := []struct {
		format, contentType string
		gzip                bool
	}{
		{"json", "application/json", false},
		{"json", "application/json", true},
		{"ndjson", "application/x-ndjson", false},
		{"ndjson", "application/x-ndjson", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s gzip=%v", tt.format, tt.gzip), func(t *testing.T) {
			s := startServer(t, nil)
			h := newSink(t, pumps.Meta{"url": s.URL + "/ingest", "format": tt.format, "gzip": tt.gzip})
			if err := h.Write(context.Background(), decoded); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != "/ingest" {
				t.Errorf("request %s %s, want POST /ingest", r.Method, r.Path)
			}
			if got := r.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := r.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
				t.Errorf("gzipped = %v, want %v", got, tt.gzip)
			}
			sinktest.CheckRecords(t, parseBody(t, r.Body, tt.format == "ndjson"), want)
			// iam's JSON names, and nothing else.
			var first map[string]any
			line := r.Body
			if tt.format == "json" {
				var arr []json.RawMessage
				_ = json.Unmarshal(r.Body, &arr)
				line = arr[0]
			} else {
				line, _, _ = bytes.Cut(r.Body, []byte("\n"))
			}
			if err := json.Unmarshal(line, &first); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expireAt"} {
				if _, ok := first[name]; !ok {
					t.Errorf("record lacks %q: %s", name, line)
				}
			}
			if len(first) != 8 {
				t.Errorf("record has %d members, want 8: %s", len(first), line)
			}
		})
	}
}

func TestWriteSendsHeadersAndTheTokenFromTheEnvironment(t *testing.T) {
	t.Setenv("PUMP_TEST_TOKEN", "tok-from-env-42")
	s := startServer(t, nil)
	h := newSink(t, pumps.Meta{
		"url": s.URL, "method": "put", "auth_token_env": "PUMP_TEST_TOKEN",
		"headers": map[string]any{"X-Source": "iam-pump", "content-type": "application/vnd.iam+json"},
	})
	batch := testutil.Records(t, 0, 10)
	if err := h.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	r := s.requests()[0]
	checks := map[string]string{
		"Authorization":   "Bearer tok-from-env-42",
		"X-Source":        "iam-pump",
		"Content-Type":    "application/vnd.iam+json",
		"Idempotency-Key": idempotencyKey(batch, nil),
	}
	for name, want := range checks {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.Method != http.MethodPut {
		t.Errorf("method %s, want PUT", r.Method)
	}
}

func TestInitFailsWhenTheTokenVariableIsUnset(t *testing.T) {
	h := New()
	if err := h.Configure(pumps.Meta{"url": "http://127.0.0.1:1", "auth_token_env": "PUMP_TEST_UNSET_TOKEN"}); err != nil {
		t.Fatal(err)
	}
	err := h.Init(context.Background())
	if err == nil || !strings.Contains(err.Error(), "PUMP_TEST_UNSET_TOKEN is empty or not set") {
		t.Fatalf("Init = %v, want an error naming the variable", err)
	}
}

func TestWriteClassifiesAnswers(t *testing.T) {
	tests := []struct {
		code      int
		permanent bool
		attempts  int // with max_retries 2
	}{
		{http.StatusBadRequest, true, 1},
		{http.StatusUnauthorized, true, 1},
		{http.StatusForbidden, true, 1},
		{http.StatusNotFound, true, 1},
		{http.StatusRequestEntityTooLarge, true, 1},
		{http.StatusUnprocessableEntity, true, 1},
		{http.StatusRequestTimeout, false, 3},
		{http.StatusTooManyRequests, false, 3},
		{http.StatusInternalServerError, false, 3},
		{http.StatusBadGateway, false, 3},
		{http.StatusServiceUnavailable, false, 3},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			s := startServer(t, status(tt.code))
			h := newSink(t, pumps.Meta{"url": s.URL, "max_retries": 2, "retry_wait": "1ms"})
			err := h.Write(context.Background(), testutil.Records(t, 0, 3))
			if err == nil {
				t.Fatal("Write succeeded")
			}
			if pumps.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v: %v", pumps.IsPermanent(err), tt.permanent, err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tt.code)) {
				t.Errorf("error does not give the status: %v", err)
			}
			if n := len(s.requests()); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

func TestWriteRetriesUntilTheServerAccepts(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, n int) {
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	h := newSink(t, pumps.Meta{"url": s.URL, "retry_wait": "1ms", "gzip": true})
	batch := testutil.Records(t, 0, 20)
	if err := h.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := s.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	for i, r := range reqs {
		if !bytes.Equal(r.Body, reqs[0].Body) || r.Header.Get("Idempotency-Key") != reqs[0].Header.Get("Idempotency-Key") {
			t.Errorf("attempt %d sent another body or key than the first", i)
		}
		if got := parseBody(t, r.Body, false); len(got) != len(batch) {
			t.Errorf("attempt %d carried %d records, want %d", i, len(got), len(batch))
		}
	}
}

func TestWriteHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value func() string
	}{
		{"seconds", func() string { return "1" }},
		{"an HTTP date", func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var times []time.Time
			s := startServer(t, func(w http.ResponseWriter, n int) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				if n == 0 {
					w.Header().Set("Retry-After", tt.value())
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			// retry_wait alone would retry after ~1ms.
			h := newSink(t, pumps.Meta{"url": s.URL, "retry_wait": "1ms"})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.Write(ctx, testutil.Records(t, 0, 3)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(times) != 2 {
				t.Fatalf("%d attempts, want 2", len(times))
			}
			// An HTTP date has whole seconds: allow for the truncation.
			if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
				t.Errorf("retried after %v, before the server's Retry-After", gap)
			}
		})
	}
}

func TestWriteGivesUpAtOnceWhenRetryAfterPassesTheDeadline(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, _ int) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newSink(t, pumps.Meta{"url": s.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := h.Write(ctx, testutil.Records(t, 0, 3))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want a transient error", err)
	}
	// Waiting would take the whole 30s; a loaded machine takes well under 10s.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Write took %v; it should not wait for a retry it cannot make", took)
	}
	if !strings.Contains(err.Error(), "would pass the write's deadline") {
		t.Errorf("error does not say why it gave up: %v", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestWriteStopsRetryingWhenTheContextEnds(t *testing.T) {
	s := startServer(t, status(http.StatusBadGateway))
	h := newSink(t, pumps.Meta{"url": s.URL, "max_retries": 100, "retry_wait": "1s"})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.Write(ctx, testutil.Records(t, 0, 3))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want a transient error", err)
	}
	// The retries alone would take 100s or more.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("Write took %v, want it bounded by the 500ms context", took)
	}
}

func TestWriteTimesOutASlowServer(t *testing.T) {
	release := make(chan struct{})
	s := startServer(t, func(w http.ResponseWriter, _ int) { <-release })
	defer close(release)
	h := newSink(t, pumps.Meta{"url": s.URL, "timeout": "200ms", "max_retries": 1, "retry_wait": "1ms"})
	start := time.Now()
	err := h.Write(context.Background(), testutil.Records(t, 0, 3))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want a transient error", err)
	}
	// The server never answers: without the timeout Write would not return.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("Write took %v with a 200ms timeout and one retry", took)
	}
}

func TestWriteToADeadPortIsTransient(t *testing.T) {
	h := newSink(t, pumps.Meta{"url": fmt.Sprintf("http://127.0.0.1:%d/x", testutil.FreePort(t)), "max_retries": 1, "retry_wait": "1ms"})
	err := h.Write(context.Background(), testutil.Records(t, 0, 3))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want a transient error", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestErrorsNeverShowCredentials(t *testing.T) {
	t.Setenv("PUMP_TEST_TOKEN", "tok-from-env-42")
	// A server that echoes what it got, as some do in their error pages.
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request %s auth=%s key=%s", r.URL.String(), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}))
	t.Cleanup(s.Close)
	u := strings.Replace(s.URL, "http://", "http://user:pa55-word@", 1) + "/in?token=query-secret"
	h := newSink(t, pumps.Meta{"url": u, "auth_token_env": "PUMP_TEST_TOKEN", "headers": map[string]any{"X-Api-Key": "api-key-secret"}})
	err := h.Write(context.Background(), testutil.Records(t, 0, 1))
	if !pumps.IsPermanent(err) {
		t.Fatalf("Write = %v, want permanent", err)
	}
	for _, secret := range []string{"pa55-word", "query-secret", "tok-from-env-42", "api-key-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), "bad request") {
		t.Errorf("error lacks the server's answer: %v", err)
	}

	dead := New()
	if err := dead.Configure(pumps.Meta{"url": fmt.Sprintf("http://u:pa55-word@127.0.0.1:%d/?token=query-secret", testutil.FreePort(t)), "max_retries": 0}); err != nil {
		t.Fatal(err)
	}
	if err := dead.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = dead.Write(context.Background(), testutil.Records(t, 0, 1))
	if err == nil || strings.Contains(err.Error(), "pa55-word") || strings.Contains(err.Error(), "query-secret") {
		t.Errorf("transport error = %v, want one without credentials", err)
	}
}

func TestRedirects(t *testing.T) {
	target := startServer(t, nil)
	t.Run("307 keeps the method and body", func(t *testing.T) {
		s := startServer(t, func(w http.ResponseWriter, _ int) {
			w.Header().Set("Location", target.URL+"/moved")
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		h := newSink(t, pumps.Meta{"url": s.URL})
		if err := h.Write(context.Background(), testutil.Records(t, 0, 5)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		reqs := target.requests()
		if len(reqs) != 1 || reqs[0].Method != http.MethodPost || len(parseBody(t, reqs[0].Body, false)) != 5 {
			t.Errorf("the target got %+v, want one POST of 5 records", reqs)
		}
	})
	t.Run("301 that would turn the POST into a GET is permanent", func(t *testing.T) {
		s := startServer(t, func(w http.ResponseWriter, _ int) {
			w.Header().Set("Location", target.URL+"/elsewhere")
			w.WriteHeader(http.StatusMovedPermanently)
		})
		h := newSink(t, pumps.Meta{"url": s.URL})
		err := h.Write(context.Background(), testutil.Records(t, 0, 5))
		if !pumps.IsPermanent(err) || !strings.Contains(err.Error(), "/elsewhere") {
			t.Errorf("Write = %v, want a permanent error naming the new location", err)
		}
	})
}

func TestHTTPSWithInsecureSkipVerify(t *testing.T) {
	var got sync.WaitGroup
	got.Add(1)
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer got.Done()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	strict := newSink(t, pumps.Meta{"url": s.URL, "max_retries": 0})
	err := strict.Write(context.Background(), testutil.Records(t, 0, 1))
	if err == nil || pumps.IsPermanent(err) {
		t.Errorf("Write to an unknown CA = %v, want a transient error", err)
	}
	lax := newSink(t, pumps.Meta{"url": s.URL, "ssl_insecure_skip_verify": true})
	if err := lax.Write(context.Background(), testutil.Records(t, 0, 1)); err != nil {
		t.Fatalf("Write with ssl_insecure_skip_verify: %v", err)
	}
	got.Wait()
}

func TestEmptyBatchSendsNothingAndCloseIsSafe(t *testing.T) {
	s := startServer(t, nil)
	h := newSink(t, pumps.Meta{"url": s.URL})
	if err := h.Write(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests for an empty batch", n)
	}
	for i := 0; i < 2; i++ {
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Write(context.Background(), testutil.Records(t, 0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := New().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRejectsOnlyTheRecordsItCannotEncodeAndSendsTheRest(t *testing.T) {
	year12000 := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC) // JSON's time has four-digit years
	tests := []struct {
		name   string
		format string
		gzip   bool
		spoil  []int // records whose ExpireAt JSON cannot hold
	}{
		{"json one in the middle", "json", false, []int{2}},
		{"json first and last", "json", true, []int{0, 4}},
		{"ndjson one in the middle", "ndjson", false, []int{2}},
		{"ndjson first and last", "ndjson", true, []int{0, 4}},
		{"json all", "json", false, []int{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, nil)
			h := newSink(t, pumps.Meta{"url": s.URL, "format": tt.format, "gzip": tt.gzip})
			batch := testutil.Records(t, 0, 5)
			spoilt := map[int]bool{}
			for _, i := range tt.spoil {
				batch[i].ExpireAt = year12000
				spoilt[i] = true
			}
			err := testutil.Write(t, h, batch)
			var rej *pumps.RejectedError
			if !errors.As(err, &rej) || pumps.IsPermanent(err) {
				t.Fatalf("Write = %v, want a *pumps.RejectedError for records %v", err, tt.spoil)
			}
			var got []int
			for _, r := range rej.Rejections {
				got = append(got, r.Index)
				if !errors.Is(r.Err, analytics.ErrJSONTime) {
					t.Errorf("rejection of record %d says %v, want the encoding error", r.Index, r.Err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.spoil) {
				t.Fatalf("records %v rejected, want %v", got, tt.spoil)
			}
			var want []string
			for i := range batch {
				if !spoilt[i] {
					want = append(want, testutil.RecordID(i))
				}
			}
			reqs := s.requests()
			if len(want) == 0 {
				if len(reqs) != 0 {
					t.Fatalf("%d requests for a batch with nothing to send", len(reqs))
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			var sent []string
			for _, r := range parseBody(t, reqs[0].Body, tt.format == "ndjson") {
				sent = append(sent, testutil.IDOf(r))
			}
			if fmt.Sprint(sent) != fmt.Sprint(want) {
				t.Errorf("sent %v, want the others %v", sent, want)
			}
		})
	}
}

func TestAServerRefusalRefusesTheBatchWhole(t *testing.T) {
	// One request carries the whole batch, so the server accepts or
	// refuses it whole: only what the sink cannot encode is rejected alone.
	s := startServer(t, status(http.StatusBadRequest))
	h := newSink(t, pumps.Meta{"url": s.URL})
	var rej *pumps.RejectedError
	if err := h.Write(context.Background(), testutil.Records(t, 0, 2)); errors.As(err, &rej) {
		t.Errorf("Write = %v, want the batch refused whole", err)
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, gz := range []bool{false, true} {
		b.Run("gzip="+strconv.FormatBool(gz), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body io.Reader = r.Body
				if r.Header.Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(r.Body)
					if err != nil {
						w.WriteHeader(http.StatusBadRequest)
						return
					}
					body = zr
				}
				_, _ = io.Copy(io.Discard, body)
				w.WriteHeader(http.StatusOK)
			}))
			b.Cleanup(srv.Close)
			h := newSink(b, pumps.Meta{"url": srv.URL, "format": "ndjson", "gzip": gz})
			testutil.BenchmarkWrites(b, h, testutil.Records(b, 0, 1000))
		})
	}
}
