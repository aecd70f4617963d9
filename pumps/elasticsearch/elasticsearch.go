package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "elasticsearch",
		Description: "indexes each record as a document (id: the record's id) through the _bulk API; Elasticsearch or OpenSearch",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Elasticsearch).cfg },
	})
}

// New returns an unconfigured elasticsearch sink with the defaults in place.
func New() *Elasticsearch {
	return &Elasticsearch{cfg: Config{
		IndexName:        "iam_analytics",
		ElasticsearchURL: "http://localhost:9200",
		MaxRetries:       3,
		BulkConfig:       BulkConfig{Workers: 1, FlushBytes: 5 << 20},
	}}
}

// Config is the elasticsearch pump's meta. The keys up to disable_bulk are
// iam's.
type Config struct {
	IndexName string `yaml:"index_name" help:"the index (Elasticsearch's rules: lower case, none of \\ / * ? \" < > | , #)"`
	// ElasticsearchURL is one URL or several, comma-separated.
	ElasticsearchURL string `yaml:"elasticsearch_url" help:"one URL or several, comma-separated; credentials in it (http://user:pass@host:9200) become basic auth"`
	UseSniffing      bool   `yaml:"use_sniffing" help:"discover the cluster's nodes at start and every 5 minutes, and spread requests over them"`
	// DocumentType is accepted for iam's configs and not sent: mapping
	// types are gone from Elasticsearch 8 and OpenSearch 2, and 7.x's
	// typeless API writes into indices created with a type.
	DocumentType string `yaml:"document_type" help:"iam's key, accepted and not sent: mapping types are gone from Elasticsearch 8 and OpenSearch 2, and 7.x's typeless API writes into indices created with a type"`
	// RollingIndex appends the decision's day (UTC) to IndexName:
	// iam_analytics-2006.01.02.
	RollingIndex bool `yaml:"rolling_index" help:"append the decision's day (UTC): iam_analytics-2006.01.02. The day is the record's, not the clock's, so a record delivered again after midnight lands on its first copy"`
	// ExtendedStats adds the ladon request's resource, action and subject
	// as fields of their own.
	ExtendedStats     bool       `yaml:"extended_stats" help:"also index the ladon request's resource, action and subject as fields of their own"`
	BulkConfig        BulkConfig `yaml:"bulk_config"`
	AuthBasicUsername string     `yaml:"auth_basic_username" help:"basic authentication"`
	AuthBasicPassword string     `yaml:"auth_basic_password" help:"basic authentication"`
	// AuthAPIKeyID and AuthAPIKey are iam's pair; APIKey is the encoded
	// key Elasticsearch hands out (base64 of id:key).
	AuthAPIKeyID string `yaml:"auth_api_key_id" help:"iam's pair, for the same thing"`
	AuthAPIKey   string `yaml:"auth_api_key" help:"iam's pair, for the same thing"`
	APIKey       string `yaml:"api_key" help:"an API key as Elasticsearch hands it out (base64 of id:key)"`
	// DisableBulk sends one document per request, as iam's option did.
	DisableBulk bool `yaml:"disable_bulk" help:"iam's key: one document per request"`

	// MaxRetries is how often documents the cluster answered 429 or 5xx
	// for are sent again within one Write before the pump's own retry
	// takes over.
	MaxRetries int `yaml:"max_retries" help:"how often documents answered 429 or 5xx are sent again within one write (after 100 ms, 200 ms, 400 ms, ...) before the pump's own retry takes over"`
	// SkipProductCheck lets the sink talk to OpenSearch, which lacks the
	// X-Elastic-Product header the client checks.
	SkipProductCheck      bool   `yaml:"skip_product_check" help:"true for OpenSearch: the v8 client refuses servers without the X-Elastic-Product: Elasticsearch header"`
	TLSCAFile             string `yaml:"tls_ca_file" help:"for https URLs with a private CA"`
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify" help:"for https URLs with a private CA"`
}

// BulkConfig shapes the _bulk requests. workers, bulk_actions, bulk_size
// and flush_interval are iam's keys, flush_bytes the Go client's name for
// bulk_size.
type BulkConfig struct {
	Workers     int `yaml:"workers" help:"_bulk requests in flight at once"`
	FlushBytes  int `yaml:"flush_bytes" help:"largest request body; bulk_size (iam's name) means the same"`
	BulkSize    int `yaml:"bulk_size" help:"iam's name for flush_bytes; set one of them"`
	BulkActions int `yaml:"bulk_actions" help:"most documents per request; 0: no limit"`
	// FlushInterval is accepted for iam's configs. It has nothing to do:
	// every batch is indexed before Write returns.
	FlushInterval int `yaml:"flush_interval" help:"iam's key, accepted and unused: every batch is indexed before the write returns, so nothing waits for a timer"`
}

// Elasticsearch indexes records with the _bulk API.
type Elasticsearch struct {
	cfg       Config
	addresses []*url.URL
	username  string
	password  string
	apiKey    string
	secrets   redact.Secrets // never to appear in an error

	// The client's transport and esapi only: the client's root package
	// would compile its typed API into the binary (two thirds of a cold
	// build's packages) for nothing the sink uses.
	client    *elastictransport.Client
	transport esapi.Transport
	lines     sync.Pool // *[]byte: a Write's _bulk lines, kept for the next
}

// Configure implements pumps.Sink.
func (e *Elasticsearch) Configure(meta pumps.Meta) error {
	c := &e.cfg
	if err := pumps.DecodeMeta(meta, c); err != nil {
		return err
	}
	if err := checkIndexName(c.IndexName); err != nil {
		return fmt.Errorf("meta.index_name: %w", err)
	}
	e.username, e.password = c.AuthBasicUsername, c.AuthBasicPassword
	e.addresses = nil
	for _, raw := range strings.Split(c.ElasticsearchURL, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("meta.elasticsearch_url: want http(s)://host:port, comma-separated, got %q", redact.Text(raw))
		}
		if u.User != nil {
			// Credentials in the URL become basic auth, so that they
			// survive node discovery and stay out of every URL printed.
			if e.username == "" {
				e.username = u.User.Username()
			}
			if pw, ok := u.User.Password(); ok && e.password == "" {
				e.password = pw
			}
			u.User = nil
		}
		u.Path = strings.TrimRight(u.Path, "/")
		e.addresses = append(e.addresses, u)
	}
	switch {
	case c.APIKey != "" && (c.AuthAPIKey != "" || c.AuthAPIKeyID != ""):
		return errors.New("meta.api_key: set api_key or auth_api_key_id and auth_api_key, not both")
	case (c.AuthAPIKey == "") != (c.AuthAPIKeyID == ""):
		return errors.New("meta.auth_api_key: auth_api_key_id and auth_api_key go together")
	}
	e.apiKey = c.APIKey
	if c.AuthAPIKey != "" {
		e.apiKey = base64.StdEncoding.EncodeToString([]byte(c.AuthAPIKeyID + ":" + c.AuthAPIKey))
	}
	if e.apiKey != "" && (e.username != "" || e.password != "") {
		return errors.New("meta.api_key: set an API key or basic auth, not both")
	}
	e.secrets = redact.Secrets{}
	e.secrets.AddURLs(c.ElasticsearchURL)
	e.secrets.Add(e.password, c.AuthAPIKey, e.apiKey)
	b := &c.BulkConfig
	if b.Workers < 1 || b.Workers > 64 {
		return fmt.Errorf("meta.bulk_config.workers: must be between 1 and 64, got %d", b.Workers)
	}
	if b.BulkSize != 0 {
		if bm, _ := meta["bulk_config"].(map[string]any); bm["flush_bytes"] != nil {
			return errors.New("meta.bulk_config.bulk_size: bulk_size is iam's name for flush_bytes: set one of them")
		}
		b.FlushBytes = b.BulkSize
	}
	if b.FlushBytes < 1024 {
		return fmt.Errorf("meta.bulk_config.flush_bytes: must be at least 1024 bytes, got %d", b.FlushBytes)
	}
	if b.BulkActions < 0 {
		return fmt.Errorf("meta.bulk_config.bulk_actions: must be 0 (no limit) or more, got %d", b.BulkActions)
	}
	if b.FlushInterval < 0 {
		return fmt.Errorf("meta.bulk_config.flush_interval: must be 0 or more seconds, got %d", b.FlushInterval)
	}
	if c.DisableBulk {
		b.BulkActions = 1
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		return fmt.Errorf("meta.max_retries: must be between 0 and 10, got %d", c.MaxRetries)
	}
	if c.TLSInsecureSkipVerify && c.TLSCAFile != "" {
		return errors.New("meta.tls_insecure_skip_verify: with it set, tls_ca_file is never used")
	}
	return nil
}

// checkIndexName applies Elasticsearch's rules for index names. A rolling
// index only adds "-" and digits and dots.
func checkIndexName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not an index name", name)
	case len(name) > 240:
		return fmt.Errorf("must be at most 240 bytes (255 with the date of a rolling index), got %d", len(name))
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Errorf("must not start with -, _ or +, got %q", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("must be lower case, got %q", name)
	case strings.ContainsAny(name, "\\/*?\"<>| ,#:"):
		return fmt.Errorf(`must not contain \ / * ? " < > | space , # or :, got %q`, name)
	}
	return nil
}

// Init implements pumps.Sink: it builds the client and, with use_sniffing,
// discovers the cluster's nodes. No document is sent.
func (e *Elasticsearch) Init(ctx context.Context) error {
	c := &e.cfg
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// A connection kept for each request that may run at once: bulk
	// workers, times the pump's workers (at most 64) writing at once.
	tr.MaxIdleConnsPerHost = max(c.BulkConfig.Workers, 64)
	if c.TLSCAFile != "" || c.TLSInsecureSkipVerify {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // the user asked for it
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return pumps.Permanent(fmt.Errorf("elasticsearch: read tls_ca_file: %w", err))
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return pumps.Permanent(fmt.Errorf("elasticsearch: tls_ca_file %s holds no PEM certificate", c.TLSCAFile))
			}
		}
		tr.TLSClientConfig = tc
	}
	opts := []elastictransport.Option{
		elastictransport.WithURLs(e.addresses...),
		elastictransport.WithTransport(tr),
		elastictransport.WithRetry(3, 429, 502, 503, 504),
		elastictransport.WithRetryBackoff(func(attempt int) time.Duration { return time.Duration(50<<min(attempt, 6)) * time.Millisecond }),
	}
	if e.username != "" || e.password != "" {
		opts = append(opts, elastictransport.WithBasicAuth(e.username, e.password))
	}
	if e.apiKey != "" {
		opts = append(opts, elastictransport.WithAPIKey(e.apiKey))
	}
	if c.UseSniffing {
		opts = append(opts, elastictransport.WithDiscoverNodesInterval(5*time.Minute))
	}
	client, err := elastictransport.NewClient(opts...)
	if err != nil {
		return pumps.Permanent(fmt.Errorf("elasticsearch: %w", e.secrets.Error(err)))
	}
	e.client = client
	e.transport = client
	if !c.SkipProductCheck {
		e.transport = &productCheck{next: client}
	}
	if c.UseSniffing {
		if err := client.DiscoverNodesContext(ctx); err != nil {
			return fmt.Errorf("elasticsearch: discover nodes (use_sniffing): %w", e.secrets.Error(err))
		}
	}
	return nil
}

// document is what is indexed: iam's fields, the decision's time as
// @timestamp in seconds, as iam-pump wrote it.
type document struct {
	Timestamp  int64     `json:"@timestamp"`
	Username   string    `json:"username"`
	Effect     string    `json:"effect"`
	Conclusion string    `json:"conclusion"`
	Request    string    `json:"request"`
	Policies   string    `json:"policies"`
	Deciders   string    `json:"deciders"`
	ExpireAt   time.Time `json:"expireAt"`
	Resource   string    `json:"resource,omitempty"`
	Action     string    `json:"action,omitempty"`
	Subject    string    `json:"subject,omitempty"`
}

// item is one record's action and source lines.
type item struct {
	index int // in the batch
	lines []byte
}

// outcome is what became of one record.
type outcome struct {
	err       error // nil: indexed
	transient bool
}

// Write implements pumps.Sink. Documents the cluster answers 429 or 5xx
// for are sent again, up to max_retries times; if some still fail the
// batch fails (transient), and since every document has the record's id as
// its _id the pump's retry does not duplicate the ones that made it.
// Documents refused for good (a mapping conflict, say) are returned as a
// *pumps.RejectedError.
func (e *Elasticsearch) Write(ctx context.Context, batch []analytics.Record) error {
	results := make([]outcome, len(batch))
	pending := make([]item, 0, len(batch))
	// Every document's lines go into one buffer, cut into items once it
	// stops growing: a buffer per document was grown for the worst case of
	// each escaped field, which cost more than the escaping.
	lines := e.lineBuffer()
	buf := (*lines)[:0]
	ends := make([]int, len(batch))
	for i := range batch {
		start := len(buf)
		var err error
		if buf, err = e.appendLines(buf, &batch[i]); err != nil {
			results[i] = outcome{err: fmt.Errorf("elasticsearch: %w", err)}
			buf, ends[i] = buf[:start], -1
			continue
		}
		ends[i] = len(buf)
	}
	for i, start := 0, 0; i < len(batch); i++ {
		if ends[i] < 0 {
			continue
		}
		pending = append(pending, item{index: i, lines: buf[start:ends[i]:ends[i]]})
		start = ends[i]
	}
	// The requests copy the lines into their bodies: buf is free again
	// once Write returns.
	defer e.keepLineBuffer(lines, buf)
	for attempt := 0; len(pending) > 0; attempt++ {
		e.send(ctx, pending, results)
		var retry []item
		requestFailed := false
		for _, it := range pending {
			r := results[it.index]
			if r.err != nil && r.transient {
				retry = append(retry, it)
				var rf requestError
				requestFailed = requestFailed || errors.As(r.err, &rf)
			}
		}
		// Whole requests that failed were retried by the client already.
		if len(retry) == 0 || requestFailed || attempt >= e.cfg.MaxRetries {
			break
		}
		t := time.NewTimer(time.Duration(100<<attempt) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("elasticsearch: %d of %d documents not indexed: %w", len(retry), len(batch), ctx.Err())
		case <-t.C:
		}
		pending = retry
	}
	var (
		rejected  []pumps.Rejection
		transient int
		first     error
	)
	for i, r := range results {
		switch {
		case r.err == nil:
		case r.transient:
			transient++
			if first == nil {
				first = r.err
			}
		default:
			rejected = append(rejected, pumps.Rejection{Index: i, Err: r.err})
		}
	}
	if transient > 0 {
		return fmt.Errorf("elasticsearch: %d of %d documents not indexed, first: %w", transient, len(batch), first)
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// lineBuffer returns a buffer for a Write's _bulk lines, one an earlier
// Write kept when it can.
func (e *Elasticsearch) lineBuffer() *[]byte {
	if b, ok := e.lines.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// keepLineBuffer keeps buf for a later Write unless it grew past
// pumps.MaxKeptBuffer.
func (e *Elasticsearch) keepLineBuffer(lines *[]byte, buf []byte) {
	if cap(buf) <= pumps.MaxKeptBuffer {
		*lines = buf[:0]
		e.lines.Put(lines)
	}
}

// appendLines appends a record's two _bulk lines to b.
func (e *Elasticsearch) appendLines(b []byte, r *analytics.Record) ([]byte, error) {
	index := e.cfg.IndexName
	if e.cfg.RollingIndex {
		index += "-" + time.Unix(r.TimeStamp, 0).UTC().Format("2006.01.02")
	}
	doc := document{
		Timestamp: r.TimeStamp, Username: r.Username, Effect: r.Effect, Conclusion: r.Conclusion,
		Request: r.Request, Policies: r.Policies, Deciders: r.Deciders, ExpireAt: r.ExpireAt,
	}
	if e.cfg.ExtendedStats {
		var req struct {
			Resource any `json:"resource"`
			Action   any `json:"action"`
			Subject  any `json:"subject"`
		}
		if json.Unmarshal([]byte(r.Request), &req) == nil {
			doc.Resource, _ = req.Resource.(string)
			doc.Action, _ = req.Action.(string)
			doc.Subject, _ = req.Subject.(string)
		}
	}
	b = append(b, `{"index":{"_index":"`...)
	b = append(b, index...)
	b = append(b, '"')
	if len(r.Raw) > 0 { // without the original bytes there is no stable id
		b = append(b, `,"_id":"`...)
		b = append(b, r.ID()...)
		b = append(b, '"')
	}
	b = append(b, "}}\n"...)
	b, err := appendDocument(b, &doc)
	if err != nil {
		return b, fmt.Errorf("encode document: %w", err)
	}
	return append(b, '\n'), nil
}

// appendDocument appends d as encoding/json would marshal it (less its
// HTML escaping, which JSON does not need), without reflection: the sink
// encodes every record, and json.Marshal was most of its CPU.
func appendDocument(b []byte, d *document) ([]byte, error) {
	if y := d.ExpireAt.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("expireAt %v: year outside of range [0,9999]", d.ExpireAt)
	}
	b = append(b, `{"@timestamp":`...)
	b = strconv.AppendInt(b, d.Timestamp, 10)
	for _, f := range [...]struct{ name, v string }{
		{`,"username":`, d.Username}, {`,"effect":`, d.Effect}, {`,"conclusion":`, d.Conclusion},
		{`,"request":`, d.Request}, {`,"policies":`, d.Policies}, {`,"deciders":`, d.Deciders},
	} {
		b = append(b, f.name...)
		b = analytics.AppendJSONString(b, f.v)
	}
	b = append(b, `,"expireAt":"`...)
	b = d.ExpireAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	for _, f := range [...]struct{ name, v string }{
		{`,"resource":`, d.Resource}, {`,"action":`, d.Action}, {`,"subject":`, d.Subject},
	} {
		if f.v != "" { // omitempty
			b = append(b, f.name...)
			b = analytics.AppendJSONString(b, f.v)
		}
	}
	return append(b, '}'), nil
}

// send indexes items, in requests of at most flush_bytes and bulk_actions
// documents, workers at a time, and records each one's outcome.
func (e *Elasticsearch) send(ctx context.Context, items []item, results []outcome) {
	var chunks [][]item
	start, size := 0, 0
	for i, it := range items {
		full := e.cfg.BulkConfig.BulkActions > 0 && i-start >= e.cfg.BulkConfig.BulkActions
		if i > start && (size+len(it.lines) > e.cfg.BulkConfig.FlushBytes || full) {
			chunks = append(chunks, items[start:i])
			start, size = i, 0
		}
		size += len(it.lines)
	}
	if start < len(items) {
		chunks = append(chunks, items[start:])
	}
	work := make(chan []item)
	var wg sync.WaitGroup
	for w := 0; w < min(e.cfg.BulkConfig.Workers, len(chunks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range work {
				e.bulk(ctx, chunk, results)
			}
		}()
	}
	for _, chunk := range chunks {
		work <- chunk
	}
	close(work)
	wg.Wait()
}

// requestError is a whole _bulk request failing.
type requestError struct{ err error }

func (e requestError) Error() string { return e.err.Error() }
func (e requestError) Unwrap() error { return e.err }

// bulkResponse is the part of a _bulk answer the sink reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	// Items answer the sink's actions, all of them "index": a struct
	// rather than a map per item, which cost more than the rest of the
	// answer's decoding.
	Items []struct {
		Index *bulkItem `json:"index"`
	} `json:"items"`
}

type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// bulk sends one _bulk request and records each item's outcome. Each
// worker writes only its own items' slots of results.
func (e *Elasticsearch) bulk(ctx context.Context, chunk []item, results []outcome) {
	fail := func(err error, transient bool) {
		for _, it := range chunk {
			results[it.index] = outcome{err: err, transient: transient}
		}
	}
	size := 0
	for _, it := range chunk {
		size += len(it.lines)
	}
	// Sized at once: growing it line by line was half the request's CPU.
	buf := make([]byte, 0, size)
	for _, it := range chunk {
		buf = append(buf, it.lines...)
	}
	req := esapi.BulkRequest{Body: bytes.NewReader(buf), Header: http.Header{"Content-Type": {"application/x-ndjson"}}}
	res, err := req.Do(ctx, e.transport)
	if err != nil {
		err = e.secrets.Error(err)
		if strings.Contains(err.Error(), "not Elasticsearch") {
			err = fmt.Errorf("%w (for OpenSearch, set skip_product_check: true)", err)
		}
		fail(requestError{fmt.Errorf("elasticsearch: bulk request: %w", err)}, true)
		return
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		fail(requestError{fmt.Errorf("elasticsearch: read bulk response: %w", err)}, true)
		return
	}
	switch {
	case res.StatusCode == http.StatusRequestEntityTooLarge && len(chunk) > 1:
		half := len(chunk) / 2
		e.bulk(ctx, chunk[:half], results)
		e.bulk(ctx, chunk[half:], results)
		return
	case res.StatusCode == http.StatusRequestEntityTooLarge:
		fail(fmt.Errorf("elasticsearch: a %d-byte document is larger than the cluster accepts (413)", len(chunk[0].lines)), false)
		return
	case res.StatusCode == http.StatusBadRequest:
		fail(fmt.Errorf("elasticsearch: bulk request refused: %s", e.snippet(res.Status(), raw)), false)
		return
	case res.StatusCode != http.StatusOK:
		// 401 and 403 too: wrong credentials are fixed by an operator,
		// and the records must wait for that, not be dead-lettered.
		fail(requestError{fmt.Errorf("elasticsearch: bulk request: %s", e.snippet(res.Status(), raw))}, true)
		return
	}
	var br bulkResponse
	if err := json.Unmarshal(raw, &br); err != nil || len(br.Items) != len(chunk) {
		fail(requestError{fmt.Errorf("elasticsearch: bulk response with %d items for %d documents (%v): %s",
			len(br.Items), len(chunk), err, e.snippet("", raw))}, true)
		return
	}
	for i, it := range chunk {
		answer := br.Items[i].Index
		if answer == nil {
			results[it.index] = outcome{err: fmt.Errorf("elasticsearch: document %d: the bulk answer has no index result: %s",
				it.index, e.snippet("", raw)), transient: true}
			continue
		}
		status, itemErr := answer.Status, answer.Error
		switch {
		case status >= 200 && status < 300:
			results[it.index] = outcome{}
		case retryable(status):
			results[it.index] = outcome{err: fmt.Errorf("elasticsearch: document %d: status %d: %s", it.index, status, describe(itemErr)), transient: true}
		default:
			results[it.index] = outcome{err: fmt.Errorf("elasticsearch: document refused: status %d: %s", status, describe(itemErr))}
		}
	}
}

// retryable tells a bulk item's failure that may pass later from one that
// never will. Besides overload (429) and server errors, a missing index
// (404, when indices are not created automatically) and missing rights
// (401, 403) wait for an operator: the records must wait too, not be
// dead-lettered.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return status >= 500
}

// describe renders a bulk item's error as "type: reason".
func describe(raw json.RawMessage) string {
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Type != "" {
		return e.Type + ": " + e.Reason
	}
	if len(raw) == 0 {
		return "no error given"
	}
	return string(raw)
}

func (e *Elasticsearch) snippet(status string, body []byte) string {
	const maxBody = 512
	s := strings.TrimSpace(string(body))
	if len(s) > maxBody {
		s = s[:maxBody] + "..."
	}
	if status != "" {
		s = status + ": " + s
	}
	return e.secrets.String(s)
}

// WritesConcurrently implements pumps.Concurrent: every document's _id is
// its record's id, so batches may be indexed at once and in any order; a
// Write shares nothing but the client.
func (e *Elasticsearch) WritesConcurrently() {}

// Close implements pumps.Sink. Every batch is indexed when Write returns;
// Close stops node discovery and idle connections.
func (e *Elasticsearch) Close(ctx context.Context) error {
	if e.client == nil {
		return nil
	}
	err := e.client.Close(ctx)
	e.client = nil
	if err != nil && !errors.Is(err, elastictransport.ErrAlreadyClosed) {
		return fmt.Errorf("elasticsearch: close client: %w", e.secrets.Error(err))
	}
	return nil
}

// productCheck refuses a server that does not say it is Elasticsearch, as
// the client's root package does: the first successful answer must carry
// X-Elastic-Product: Elasticsearch, and once one has, no later answer is
// checked. Errors and 401/403 answers say nothing about the product.
type productCheck struct {
	next esapi.Transport
	ok   atomic.Bool
}

// errNotElasticsearch is the refusal; skip_product_check lifts it.
var errNotElasticsearch = errors.New("the server is not Elasticsearch: its answer lacks the X-Elastic-Product: Elasticsearch header")

func (p *productCheck) Perform(req *http.Request) (*http.Response, error) {
	res, err := p.next.Perform(req)
	if err != nil || p.ok.Load() || res.StatusCode < 200 || res.StatusCode > 299 {
		return res, err
	}
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		res.Body.Close()
		return nil, errNotElasticsearch
	}
	p.ok.Store(true)
	return res, nil
}

var (
	_ pumps.Sink      = (*Elasticsearch)(nil)
	_ esapi.Transport = (*productCheck)(nil)
)

var _ pumps.Concurrent = (*Elasticsearch)(nil)
