package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/tls"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "http",
		Description: "POST each batch as a JSON array or NDJSON to an HTTP endpoint, retrying 5xx and 429",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*HTTP).meta },
	})
}

// Defaults of the meta keys.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
	DefaultRetryWait  = 500 * time.Millisecond
)

// maxWait caps one wait between attempts, the server's Retry-After
// included, when the write has no deadline of its own: longer outages are
// the loop's business (it parks the batch).
const maxWait = time.Minute

// Config is the http pump's meta section.
type Config struct {
	URL                   string            `yaml:"url" help:"http:// or https:// endpoint. User info in it (https://user:pw@host/) is sent as basic auth." required:"true"`
	Method                string            `yaml:"method" help:"POST, PUT or PATCH"`
	Format                string            `yaml:"format" help:"json: the batch as one array (Content-Type: application/json); ndjson: one record a line (application/x-ndjson)"`
	Headers               map[string]string `yaml:"headers" help:"extra request headers; Content-Type may be overridden, Content-Length, Content-Encoding and Transfer-Encoding are the sink's. Values may use ${VAR}, expanded when the file loads."`
	AuthTokenEnv          string            `yaml:"auth_token_env" help:"name of an environment variable holding a token, sent as Authorization: Bearer <token>; read at start-up (an unset or empty variable fails the start), so the token is in no file"`
	Gzip                  bool              `yaml:"gzip" help:"gzip the body (Content-Encoding: gzip)"`
	Timeout               pumps.Duration    `yaml:"timeout" help:"one request may take this long; seconds (10) or a duration (1500ms)"`
	MaxRetries            int               `yaml:"max_retries" help:"retries within one write, after the first attempt"`
	RetryWait             pumps.Duration    `yaml:"retry_wait" help:"wait before the first retry, doubled for each next one (with jitter), at most a minute; a server's Retry-After (seconds or a date) replaces it"`
	SSLInsecureSkipVerify bool              `yaml:"ssl_insecure_skip_verify" help:"accept any server certificate"`
}

// HTTP sends every batch in one request and returns from Write once the
// server has answered 2xx.
type HTTP struct {
	meta        Config
	url         *url.URL
	shownURL    string // scheme://host/path: no credentials, no query
	contentType string
	header      http.Header
	secrets     redact.Secrets // values kept out of error messages
	client      *http.Client
	zw          *gzip.Writer
}

// New returns an unconfigured http sink.
func New() *HTTP {
	return &HTTP{meta: Config{
		Method: http.MethodPost, Format: "json", Timeout: pumps.Duration(DefaultTimeout),
		MaxRetries: DefaultMaxRetries, RetryWait: pumps.Duration(DefaultRetryWait),
	}}
}

var (
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// Headers the sink sets itself from the body it sends.
	ownHeaders = map[string]bool{"Content-Length": true, "Content-Encoding": true, "Transfer-Encoding": true}
)

// Configure decodes and checks the meta. It does no I/O.
func (h *HTTP) Configure(meta pumps.Meta) error {
	m := h.meta
	if err := pumps.DecodeMeta(meta, &m); err != nil {
		return err
	}
	if m.URL == "" {
		return errors.New("meta.url: must not be empty, e.g. https://collector.example.com/iam")
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("meta.url: want an http:// or https:// URL with a host, got %q", redact.Text(m.URL))
	}
	m.Method = strings.ToUpper(m.Method)
	switch m.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return fmt.Errorf("meta.method: want POST, PUT or PATCH, got %q", m.Method)
	}
	var contentType string
	switch m.Format {
	case "json":
		contentType = "application/json"
	case "ndjson":
		contentType = "application/x-ndjson"
	default:
		return fmt.Errorf("meta.format: want json or ndjson, got %q", m.Format)
	}
	header := http.Header{}
	for name, value := range m.Headers {
		if !headerName.MatchString(name) {
			return fmt.Errorf("meta.headers.%s: not a valid header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if ownHeaders[canon] {
			return fmt.Errorf("meta.headers.%s: set by the sink from the body it sends", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("meta.headers.%s: a header value cannot hold a line break or NUL", name)
		}
		if canon == "Content-Type" {
			contentType = value
			continue
		}
		header.Set(canon, value)
	}
	if m.AuthTokenEnv != "" {
		if !envName.MatchString(m.AuthTokenEnv) {
			return fmt.Errorf("meta.auth_token_env: want the name of an environment variable, got %q", m.AuthTokenEnv)
		}
		if header.Get("Authorization") != "" {
			return errors.New("meta.auth_token_env: headers already set Authorization; keep one of them")
		}
	}
	if m.Timeout <= 0 {
		return fmt.Errorf("meta.timeout: must be positive, got %v", time.Duration(m.Timeout))
	}
	if m.MaxRetries < 0 || m.MaxRetries > 100 {
		return fmt.Errorf("meta.max_retries: must be between 0 and 100, got %d", m.MaxRetries)
	}
	if m.RetryWait <= 0 {
		return fmt.Errorf("meta.retry_wait: must be positive, got %v", time.Duration(m.RetryWait))
	}
	h.meta, h.url, h.contentType, h.header = m, u, contentType, header
	h.shownURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	h.secrets = redact.Secrets{}
	h.secrets.AddURLs(m.URL)
	h.secrets.AddHeader(header)
	return nil
}

// Init reads the token from the environment and prepares the client. It
// does not call the endpoint: there is no request that every server
// accepts without side effects.
func (h *HTTP) Init(context.Context) error {
	if h.url == nil {
		return errors.New("http: Init before Configure")
	}
	if name := h.meta.AuthTokenEnv; name != "" {
		token := os.Getenv(name)
		if token == "" {
			return pumps.Permanent(fmt.Errorf("http: auth_token_env: environment variable %s is empty or not set", name))
		}
		h.header.Set("Authorization", "Bearer "+token)
		h.secrets.Add(token)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	if h.meta.SSLInsecureSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator's choice, off by default
	}
	h.client = &http.Client{
		Transport: tr,
		// 307 and 308 keep the method and body; a redirect that would turn
		// the POST into a GET is returned instead, and refused.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.Method != via[0].Method {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return nil
}

// Write sends the batch in one request, retrying transport errors, 408,
// 429 and 5xx answers with exponential backoff (or the server's
// Retry-After) within ctx. Any other answer outside 2xx means the server
// will never take this body: the error is permanent and the loop
// dead-letters the batch. A record JSON cannot hold (an ExpireAt past
// year 9999) is left out of the body and rejected alone.
func (h *HTTP) Write(ctx context.Context, batch []analytics.Record) error {
	if h.client == nil {
		return errors.New("http: Write before Init")
	}
	if len(batch) == 0 {
		return nil
	}
	body, rejected, err := h.encode(batch)
	if err != nil {
		return pumps.Permanent(fmt.Errorf("http: encode %d records: %w", len(batch), err))
	}
	if len(rejected) == len(batch) {
		return &pumps.RejectedError{Rejections: rejected}
	}
	key := idempotencyKey(batch, rejected)
	for attempt := 0; ; attempt++ {
		retryAfter, err := h.send(ctx, body, key)
		if err == nil {
			if len(rejected) > 0 {
				return &pumps.RejectedError{Rejections: rejected}
			}
			return nil
		}
		if pumps.IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		if attempt >= h.meta.MaxRetries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		wait := h.backoff(attempt)
		if retryAfter > 0 {
			wait = retryAfter
		}
		limit := maxWait
		if deadline, ok := ctx.Deadline(); ok {
			limit = time.Until(deadline)
		}
		if wait > limit {
			return fmt.Errorf("%w (next attempt in %v would pass the write's deadline)", err, wait.Round(time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		}
	}
}

// backoff is retry_wait doubled per attempt with full jitter, at most
// maxWait.
func (h *HTTP) backoff(attempt int) time.Duration {
	d := time.Duration(h.meta.RetryWait) << min(attempt, 16)
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// send makes one attempt. It returns the server's Retry-After, when it
// gave one, with a transient error.
func (h *HTTP) send(ctx context.Context, body []byte, key string) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Duration(h.meta.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, h.meta.Method, h.url.String(), bytes.NewReader(body))
	if err != nil {
		return 0, pumps.Permanent(fmt.Errorf("http: %s %s: %w", h.meta.Method, h.shownURL, h.secrets.Error(err)))
	}
	for name, v := range h.header {
		req.Header[name] = v
	}
	req.Header.Set("Content-Type", h.contentType)
	if h.meta.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("Idempotency-Key", key)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "pump-http")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, query and all
		}
		return 0, fmt.Errorf("http: %s %s: %w", h.meta.Method, h.shownURL, h.secrets.Error(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err = fmt.Errorf("http: %s %s: %s%s", h.meta.Method, h.shownURL, resp.Status, h.describeBody(snippet))
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), err
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return 0, pumps.Permanent(fmt.Errorf("%w (redirected to %s: point url there)", err, strconv.Quote(redact.Text(resp.Header.Get("Location")))))
	}
	return 0, pumps.Permanent(err)
}

// describeBody renders the start of an error answer, without secrets the
// server may echo.
func (h *HTTP) describeBody(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if s == "" {
		return ""
	}
	s = h.secrets.String(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "..."
	}
	return ": " + s
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// encode renders the batch as the request body, gzipped when asked, and
// lists the records left out because JSON cannot hold them.
func (h *HTTP) encode(batch []analytics.Record) ([]byte, []pumps.Rejection, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	if h.meta.Gzip {
		if h.zw == nil {
			h.zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		} else {
			h.zw.Reset(&buf)
		}
		w = h.zw
	}
	rejected, err := writeRecords(w, batch, h.meta.Format == "ndjson")
	if err != nil {
		return nil, nil, err
	}
	if h.meta.Gzip {
		if err := h.zw.Close(); err != nil {
			return nil, nil, err
		}
	}
	return buf.Bytes(), rejected, nil
}

// writeRecords writes the records with iam's JSON names, as one array or
// one object a line, leaving out (and returning) those JSON cannot hold.
func writeRecords(w io.Writer, batch []analytics.Record, ndjson bool) ([]pumps.Rejection, error) {
	var rejected []pumps.Rejection
	var out []byte
	if !ndjson {
		out = append(out, '[')
	}
	written := 0
	for i := range batch {
		start := len(out)
		if !ndjson && written > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = analytics.AppendJSON(out, &batch[i]); err != nil {
			out = out[:start]
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("http: encode record: %w", err)})
			continue
		}
		written++
		if ndjson {
			out = append(out, '\n')
		}
		if len(out) > 256<<10 {
			if _, err := w.Write(out); err != nil {
				return nil, err
			}
			out = out[:0]
		}
	}
	if !ndjson {
		out = append(out, ']')
	}
	_, err := w.Write(out)
	return rejected, err
}

// idempotencyKey names the body by the ids of the records it carries (the
// batch but the rejected ones): the same batch sent again (a retry, or a
// re-read after a crash) carries the same key, so a server that honours
// Idempotency-Key stores it once.
func idempotencyKey(batch []analytics.Record, rejected []pumps.Rejection) string {
	s := sha1.New()
	next := 0
	for i := range batch {
		if next < len(rejected) && rejected[next].Index == i {
			next++
			continue
		}
		s.Write([]byte(batch[i].ID()))
	}
	return hex.EncodeToString(s.Sum(nil))
}

// Close releases idle connections; nothing is buffered, as Write returns
// only after the server's answer.
func (h *HTTP) Close(context.Context) error {
	if h.client != nil {
		h.client.CloseIdleConnections()
		h.client = nil
	}
	return nil
}

// WritesRecordJSON marks the sink as a pumps.JSONWriter: it writes each
// record as analytics.AppendJSON encodes it.
func (h *HTTP) WritesRecordJSON() {}

var (
	_ pumps.Sink       = (*HTTP)(nil)
	_ pumps.JSONWriter = (*HTTP)(nil)
)
