package elasticsearch

// No Elasticsearch server can be installed on the machines these tests run
// on, so they run against fakeES below: a real HTTP server (httptest) that
// implements the part of Elasticsearch's REST API the sink uses and checks
// what it is sent the way Elasticsearch would:
//   - POST /_bulk with an NDJSON body (Content-Type x-ndjson): pairs of an
//     action line {"index":{"_index":...,"_id":...}} and a JSON document,
//     answered with {"errors":...,"items":[{"index":{"status":...}}]}, one
//     item per action, in order, with per-item errors when a test asks;
//   - the X-Elastic-Product: Elasticsearch header the v8 client checks;
//   - basic and API-key authentication;
//   - 413 for bodies over http.max_content_length;
//   - GET /_nodes/http for node discovery (sniffing).
// Documents are stored by index and _id, so a document indexed twice is
// stored once, as in Elasticsearch.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// itemFault decides how the fake answers one action; status 0 indexes it.
type itemFault func(id string, doc map[string]any, attempt int) (status int, errType string)

type fakeES struct {
	t   testing.TB
	srv *httptest.Server

	// set before use
	auth          string // the Authorization header required, "" for none
	noProduct     bool   // leave out X-Elastic-Product
	maxBody       int    // 413 above this many bytes, 0: no limit
	requestStatus int    // answer every _bulk with this status, 0: normal
	fault         itemFault
	nodes         string // GET /_nodes/http answers that nodes point here

	mu          sync.Mutex
	docs        map[string]map[string]map[string]any // index → _id → source
	attempts    map[string]int                       // _id → times seen
	bulks       int                                  // _bulk requests answered 200
	actions     int
	inFlight    int
	maxInFlight int
	errs        []error
}

func startES(t testing.TB) *fakeES {
	t.Helper()
	f := &fakeES{t: t, docs: map[string]map[string]map[string]any{}, attempts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, err := range f.errs {
			t.Errorf("fake Elasticsearch: %v", err)
		}
	})
	return f
}

func (f *fakeES) fail(w http.ResponseWriter, format string, args ...any) {
	err := fmt.Errorf(format, args...)
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	if !f.noProduct {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json")
	if f.auth != "" && !sameAuth(r.Header.Get("Authorization"), f.auth) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_nodes/http":
		fmt.Fprintf(w, `{"nodes":{"n1":{"name":"node-1","roles":["data","ingest","master"],"http":{"publish_address":%q}}}}`, f.nodes)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		f.bulk(w, r)
	default:
		f.fail(w, "unexpected request %s %s", r.Method, r.URL)
	}
}

// sameAuth compares Authorization headers; the scheme is case-insensitive
// (RFC 9110 11.1), the credentials are not.
func sameAuth(got, want string) bool {
	gs, gc, _ := strings.Cut(got, " ")
	ws, wc, _ := strings.Cut(want, " ")
	return strings.EqualFold(gs, ws) && gc == wc
}

func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "ndjson") {
		f.fail(w, "_bulk with Content-Type %q, want NDJSON", ct)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, "read body: %v", err)
		return
	}
	if f.maxBody > 0 && len(body) > f.maxBody {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if f.requestStatus != 0 {
		w.WriteHeader(f.requestStatus)
		fmt.Fprintf(w, `{"error":{"type":"test","reason":"status %d for every request"},"status":%d}`, f.requestStatus, f.requestStatus)
		return
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		f.fail(w, "_bulk body does not end with a newline")
		return
	}
	type result struct {
		Index  string         `json:"_index"`
		ID     string         `json:"_id"`
		Status int            `json:"status"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]result
	anyErr := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<30)
	for sc.Scan() {
		var action map[string]struct {
			Index *string `json:"_index"`
			ID    *string `json:"_id"`
			Type  *string `json:"_type"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&action); err != nil || len(action) != 1 {
			f.fail(w, "action line %q: %v", sc.Bytes(), err)
			return
		}
		meta, ok := action["index"]
		if !ok || meta.Index == nil || meta.ID == nil || meta.Type != nil {
			f.fail(w, "action line %q: want index with _index and _id, no _type", sc.Bytes())
			return
		}
		if !sc.Scan() {
			f.fail(w, "action without a document")
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			f.fail(w, "document line %q: %v", sc.Bytes(), err)
			return
		}
		f.mu.Lock()
		f.actions++
		f.attempts[*meta.ID]++
		attempt := f.attempts[*meta.ID]
		f.mu.Unlock()
		res := result{Index: *meta.Index, ID: *meta.ID, Status: 201}
		if f.fault != nil {
			if status, typ := f.fault(*meta.ID, doc, attempt); status != 0 {
				res.Status = status
				res.Error = map[string]any{"type": typ, "reason": "the test said so", "index": *meta.Index}
				anyErr = true
			}
		}
		if res.Error == nil {
			f.mu.Lock()
			if f.docs[*meta.Index] == nil {
				f.docs[*meta.Index] = map[string]map[string]any{}
			}
			f.docs[*meta.Index][*meta.ID] = doc
			f.mu.Unlock()
		}
		items = append(items, map[string]result{"index": res})
	}
	f.mu.Lock()
	f.bulks++
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": anyErr, "items": items})
}

// doc returns the stored source of _id in index.
func (f *fakeES) doc(index, id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.docs[index][id]
}

// stats reads the counters under the lock.
func (f *fakeES) stats() (bulks, actions, maxInFlight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bulks, f.actions, f.maxInFlight
}

func (f *fakeES) attemptsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id]
}

func (f *fakeES) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, docs := range f.docs {
		n += len(docs)
	}
	return n
}

// asRecord reads a stored document back into a record.
func asRecord(t testing.TB, doc map[string]any) analytics.Record {
	t.Helper()
	if doc == nil {
		t.Fatal("document not stored")
	}
	ts, ok := doc["@timestamp"].(float64)
	if !ok {
		t.Fatalf("@timestamp is %T %v, want seconds", doc["@timestamp"], doc["@timestamp"])
	}
	expire, err := time.Parse(time.RFC3339Nano, doc["expireAt"].(string))
	if err != nil {
		t.Fatalf("expireAt: %v", err)
	}
	str := func(k string) string {
		s, ok := doc[k].(string)
		if !ok {
			t.Fatalf("field %s is %T, want a string", k, doc[k])
		}
		return s
	}
	return analytics.Record{
		TimeStamp: int64(ts), Username: str("username"), Effect: str("effect"), Conclusion: str("conclusion"),
		Request: str("request"), Policies: str("policies"), Deciders: str("deciders"), ExpireAt: expire,
	}
}

func newSink(t testing.TB, meta pumps.Meta) *Elasticsearch {
	return testutil.StartSink(t, New(), meta)
}

func TestConfigureRejectsBadMeta(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"upper-case index", pumps.Meta{"index_name": "IAM"}, `meta.index_name: must be lower case, got "IAM"`},
		{"index with a star", pumps.Meta{"index_name": "iam*"}, `meta.index_name: must not contain`},
		{"index starting with _", pumps.Meta{"index_name": "_iam"}, `meta.index_name: must not start with -, _ or +, got "_iam"`},
		{"empty index", pumps.Meta{"index_name": ""}, "meta.index_name: must not be empty"},
		{"url without scheme", pumps.Meta{"elasticsearch_url": "localhost:9200"}, `meta.elasticsearch_url: want http(s)://host:port, comma-separated, got "localhost:9200"`},
		{"bad second url", pumps.Meta{"elasticsearch_url": "http://a:9200,ftp://b"}, `meta.elasticsearch_url: want http(s)://host:port, comma-separated, got "ftp://b"`},
		{"api key half of iam's pair", pumps.Meta{"auth_api_key_id": "id"}, "meta.auth_api_key: auth_api_key_id and auth_api_key go together"},
		{"two kinds of api key", pumps.Meta{"api_key": "k", "auth_api_key_id": "i", "auth_api_key": "k"}, "meta.api_key: set api_key or auth_api_key_id and auth_api_key, not both"},
		{"api key and basic auth", pumps.Meta{"api_key": "k", "auth_basic_username": "u"}, "meta.api_key: set an API key or basic auth, not both"},
		{"no workers", pumps.Meta{"bulk_config": map[string]any{"workers": 0}}, "meta.bulk_config.workers: must be between 1 and 64, got 0"},
		{"tiny requests", pumps.Meta{"bulk_config": map[string]any{"flush_bytes": 10}}, "meta.bulk_config.flush_bytes: must be at least 1024 bytes, got 10"},
		{"iam's and the client's size", pumps.Meta{"bulk_config": map[string]any{"flush_bytes": 4096, "bulk_size": 4096}}, "meta.bulk_config.bulk_size: bulk_size is iam's name for flush_bytes"},
		{"negative bulk_actions", pumps.Meta{"bulk_config": map[string]any{"bulk_actions": -1}}, "meta.bulk_config.bulk_actions: must be 0 (no limit) or more, got -1"},
		{"unknown bulk key", pumps.Meta{"bulk_config": map[string]any{"worker": 2}}, `meta.bulk_config.worker: unknown key (did you mean "workers"?)`},
		{"too many retries", pumps.Meta{"max_retries": 11}, "meta.max_retries: must be between 0 and 10, got 11"},
		{"ca file that is never used", pumps.Meta{"tls_ca_file": "/ca.pem", "tls_insecure_skip_verify": true}, "meta.tls_insecure_skip_verify: with it set, tls_ca_file is never used"},
		{"rolling_index not a bool", pumps.Meta{"rolling_index": "daily"}, `meta.rolling_index: want true or false, got "daily"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Configure(%v) = %v, want an error starting %q", tt.meta, err, tt.want)
			}
		})
	}
}

func TestConfigureKeepsSecretsOutOfErrors(t *testing.T) {
	err := New().Configure(pumps.Meta{"elasticsearch_url": "ftp://pump:s3cret@es:9200"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Configure = %v, want an error without the password", err)
	}
}

func TestWriteIndexesEveryRecord(t *testing.T) {
	tests := []struct {
		name  string
		meta  pumps.Meta
		index func(r analytics.Record) string
	}{
		{"one index", pumps.Meta{"index_name": "iam-analytics"}, func(analytics.Record) string { return "iam-analytics" }},
		{"rolling index by the decision's day", pumps.Meta{"index_name": "iam-analytics", "rolling_index": true, "document_type": "iam_analytics"},
			func(r analytics.Record) string {
				return "iam-analytics-" + time.Unix(r.TimeStamp, 0).UTC().Format("2006.01.02")
			}},
		{"several workers and small requests", pumps.Meta{"bulk_config": map[string]any{"workers": 4, "flush_bytes": 8192, "flush_interval": 5}},
			func(analytics.Record) string { return "iam_analytics" }},
		{"iam's disable_bulk", pumps.Meta{"disable_bulk": true}, func(analytics.Record) string { return "iam_analytics" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startES(t)
			tt.meta["elasticsearch_url"] = srv.srv.URL
			e := newSink(t, tt.meta)
			golden := testutil.GoldenDecoded(t)
			batch := append(append([]analytics.Record(nil), golden...), testutil.Records(t, 0, 300)...)
			if err := testutil.Write(t, e, batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if n := srv.count(); n != len(batch) {
				t.Fatalf("%d documents stored, want %d", n, len(batch))
			}
			want := testutil.GoldenExpected(t)
			for i, r := range golden {
				if got := asRecord(t, srv.doc(tt.index(r), r.ID())); !testutil.SameRecord(got, want[i]) {
					t.Errorf("golden record %d stored as %+v, want %+v", i, got, want[i])
				}
			}
			for _, r := range batch[len(golden):] {
				got := asRecord(t, srv.doc(tt.index(r), r.ID()))
				if !testutil.SameRecord(got, r) || testutil.IDOf(got) == "" {
					t.Fatalf("record %s stored as %+v, want %+v", testutil.IDOf(r), got, r)
				}
			}
			bulks, _, inFlight := srv.stats()
			if tt.meta["disable_bulk"] == true && bulks != len(batch) {
				t.Fatalf("%d requests with disable_bulk, want one per document (%d)", bulks, len(batch))
			}
			if bc, ok := tt.meta["bulk_config"].(map[string]any); ok {
				if bulks < 10 {
					t.Fatalf("%d requests of at most 8 KiB for %d documents", bulks, len(batch))
				}
				if inFlight > bc["workers"].(int) {
					t.Fatalf("%d requests in flight with %v workers", inFlight, bc["workers"])
				}
			}
		})
	}
}

func TestWriteTwiceStoresOnce(t *testing.T) {
	srv := startES(t)
	e := newSink(t, pumps.Meta{"elasticsearch_url": srv.srv.URL})
	batch := testutil.Records(t, 0, 100)
	for i := 0; i < 2; i++ {
		if err := testutil.Write(t, e, batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, actions, _ := srv.stats(); actions != 200 || srv.count() != 100 {
		t.Fatalf("%d index actions stored %d documents, want 200 actions and 100 documents", actions, srv.count())
	}
}

func TestExtendedStatsIndexesTheRequestsParts(t *testing.T) {
	srv := startES(t)
	e := newSink(t, pumps.Meta{"elasticsearch_url": srv.srv.URL, "extended_stats": true})
	golden := testutil.GoldenDecoded(t)
	if err := testutil.Write(t, e, golden); err != nil {
		t.Fatal(err)
	}
	doc := srv.doc("iam_analytics", golden[0].ID())
	want := map[string]string{"resource": "resources:articles:ladon-introduction", "action": "delete", "subject": "users:peter"}
	for k, v := range want {
		if doc[k] != v {
			t.Fatalf("%s = %v, want %q (document %v)", k, doc[k], v, doc)
		}
	}
	if _, ok := srv.doc("iam_analytics", golden[2].ID())["resource"]; ok {
		t.Fatal("an empty resource was indexed")
	}
}

func TestWriteClassifiesItemFailures(t *testing.T) {
	const bad = 3 // the record that fails
	tests := []struct {
		name         string
		fault        func(badID string) itemFault
		maxRetries   int
		wantErr      string // "" for success
		wantRejected bool
		wantStored   int
		wantAttempts int // of the bad record
	}{
		{
			name: "mapping error is rejected alone",
			fault: func(badID string) itemFault {
				return func(id string, _ map[string]any, _ int) (int, string) {
					if id == badID {
						return 400, "mapper_parsing_exception"
					}
					return 0, ""
				}
			},
			maxRetries: 3, wantErr: "mapper_parsing_exception", wantRejected: true, wantStored: 9, wantAttempts: 1,
		},
		{
			name: "429 twice is retried within the write",
			fault: func(badID string) itemFault {
				return func(id string, _ map[string]any, attempt int) (int, string) {
					if id == badID && attempt <= 2 {
						return 429, "es_rejected_execution_exception"
					}
					return 0, ""
				}
			},
			maxRetries: 3, wantStored: 10, wantAttempts: 3,
		},
		{
			name: "503 that lasts fails the batch, transient",
			fault: func(badID string) itemFault {
				return func(id string, _ map[string]any, _ int) (int, string) {
					if id == badID {
						return 503, "unavailable_shards_exception"
					}
					return 0, ""
				}
			},
			maxRetries: 2, wantErr: "1 of 10 documents not indexed, first: elasticsearch: document 3: status 503: unavailable_shards_exception", wantStored: 9, wantAttempts: 3,
		},
		{
			name: "missing index waits for an operator",
			fault: func(badID string) itemFault {
				return func(string, map[string]any, int) (int, string) { return 404, "index_not_found_exception" }
			},
			maxRetries: 0, wantErr: "10 of 10 documents not indexed", wantStored: 0, wantAttempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startES(t)
			batch := testutil.Records(t, 0, 10)
			srv.fault = tt.fault(batch[bad].ID())
			e := newSink(t, pumps.Meta{"elasticsearch_url": srv.srv.URL, "max_retries": tt.maxRetries})
			err := testutil.Write(t, e, batch)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Write = %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Write = %v, want an error saying %q", err, tt.wantErr)
			}
			var rej *pumps.RejectedError
			if tt.wantRejected {
				if !errors.As(err, &rej) || len(rej.Rejections) != 1 || rej.Rejections[0].Index != bad {
					t.Fatalf("Write = %v, want record %d rejected", err, bad)
				}
			} else if errors.As(err, &rej) || pumps.IsPermanent(err) {
				t.Fatalf("Write = %v, want a transient error", err)
			}
			if n := srv.count(); n != tt.wantStored {
				t.Fatalf("%d documents stored, want %d", n, tt.wantStored)
			}
			if n := srv.attemptsOf(batch[bad].ID()); n != tt.wantAttempts {
				t.Fatalf("record %d sent %d times, want %d", bad, n, tt.wantAttempts)
			}
		})
	}
}

func TestWriteRequestFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*fakeES)
		meta      pumps.Meta
		wantErr   string
		permanent bool
	}{
		{"wrong password", func(f *fakeES) { f.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("pump:right")) },
			pumps.Meta{"auth_basic_username": "pump", "auth_basic_password": "wr0ng-s3cret"}, "401 Unauthorized", false},
		{"not Elasticsearch", func(f *fakeES) { f.noProduct = true }, pumps.Meta{}, "set skip_product_check: true", false},
		{"cluster overloaded", func(f *fakeES) { f.requestStatus = 503 }, pumps.Meta{}, "503 Service Unavailable", false},
		{"bad request", func(f *fakeES) { f.requestStatus = 400 }, pumps.Meta{}, "bulk request refused: 400 Bad Request", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startES(t)
			tt.setup(srv)
			tt.meta["elasticsearch_url"] = srv.srv.URL
			e := newSink(t, tt.meta)
			err := testutil.Write(t, e, testutil.Records(t, 0, 5))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write = %v, want an error saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the password is in the error: %v", err)
			}
			var rej *pumps.RejectedError
			if got := errors.As(err, &rej); got != tt.permanent {
				t.Fatalf("Write = %v: rejected %v, want %v", err, got, tt.permanent)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("pump:s3cret"))
	apiKey := "ApiKey " + base64.StdEncoding.EncodeToString([]byte("key-id:key-secret"))
	tests := []struct {
		name string
		want string
		meta func(url string) pumps.Meta
	}{
		{"basic auth", basic, func(u string) pumps.Meta {
			return pumps.Meta{"elasticsearch_url": u, "auth_basic_username": "pump", "auth_basic_password": "s3cret"}
		}},
		{"credentials in the url", basic, func(u string) pumps.Meta {
			return pumps.Meta{"elasticsearch_url": strings.Replace(u, "http://", "http://pump:s3cret@", 1)}
		}},
		{"encoded api key", apiKey, func(u string) pumps.Meta {
			return pumps.Meta{"elasticsearch_url": u, "api_key": base64.StdEncoding.EncodeToString([]byte("key-id:key-secret"))}
		}},
		{"iam's api key pair", apiKey, func(u string) pumps.Meta {
			return pumps.Meta{"elasticsearch_url": u, "auth_api_key_id": "key-id", "auth_api_key": "key-secret"}
		}},
		{"opensearch without the product header", "", func(u string) pumps.Meta {
			return pumps.Meta{"elasticsearch_url": u, "skip_product_check": true}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startES(t)
			srv.auth = tt.want
			srv.noProduct = tt.want == ""
			e := newSink(t, tt.meta(srv.srv.URL))
			if err := testutil.Write(t, e, testutil.Records(t, 0, 3)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if srv.count() != 3 {
				t.Fatalf("%d documents stored, want 3", srv.count())
			}
		})
	}
}

func TestTooLargeRequestsAreSplit(t *testing.T) {
	srv := startES(t)
	srv.maxBody = 20 << 10
	e := newSink(t, pumps.Meta{"elasticsearch_url": srv.srv.URL})
	batch := testutil.Records(t, 0, 200)
	batch[7].Policies = strings.Repeat("p", 30<<10) // larger than the cluster takes, alone
	err := testutil.Write(t, e, batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejections) != 1 || rej.Rejections[0].Index != 7 ||
		!strings.Contains(rej.Rejections[0].Err.Error(), "larger than the cluster accepts (413)") {
		t.Fatalf("Write = %v, want record 7 rejected as too large", err)
	}
	if srv.count() != 199 {
		t.Fatalf("%d documents stored, want 199", srv.count())
	}
}

func TestSniffingSendsToDiscoveredNodes(t *testing.T) {
	seed, data := startES(t), startES(t)
	seed.nodes = strings.TrimPrefix(data.srv.URL, "http://")
	e := newSink(t, pumps.Meta{"elasticsearch_url": seed.srv.URL, "use_sniffing": true})
	if err := testutil.Write(t, e, testutil.Records(t, 0, 20)); err != nil {
		t.Fatal(err)
	}
	if seed.count() != 0 || data.count() != 20 {
		t.Fatalf("seed node stored %d and discovered node %d documents, want 0 and 20", seed.count(), data.count())
	}
}

func BenchmarkWrite(b *testing.B) {
	srv := startES(b)
	e := newSink(b, pumps.Meta{"elasticsearch_url": srv.srv.URL, "bulk_config": map[string]any{"workers": 2, "flush_bytes": 1 << 20}})
	testutil.BenchmarkWrites(b, e, testutil.Records(b, 0, 1000))
}

func TestEndToEndThroughTheDaemon(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 5000
	srv := startES(t)
	// One record is refused for good, one is overloaded twice: the first
	// must end in the dead-letter list, the second in the index.
	refused, overloaded := analytics.Record{Raw: testutil.EncodedRecord(t, 17)}, analytics.Record{Raw: testutil.EncodedRecord(t, 42)}
	srv.fault = func(id string, _ map[string]any, attempt int) (int, string) {
		switch {
		case id == refused.ID():
			return 400, "mapper_parsing_exception"
		case id == overloaded.ID() && attempt <= 2:
			return 429, "es_rejected_execution_exception"
		}
		return 0, ""
	}
	r := testutil.StartRedis(t)
	golden := testutil.GoldenRaw(t)
	for _, raw := range golden {
		if err := r.Client().RPush(context.Background(), analytics.DefaultKey, raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
	d := testutil.WriteConfig(t, r.Port, fmt.Sprintf(
		"  es:\n    type: elasticsearch\n    meta: {elasticsearch_url: %q, index_name: iam-analytics, rolling_index: true, bulk_config: {workers: 2, flush_bytes: 262144}}\n",
		srv.srv.URL), "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	dead := "{" + analytics.DefaultKey + "}.dead"
	testutil.Eventually(t, time.Minute, "every record indexed or dead-lettered", func() bool {
		left, _ := r.Client().LLen(context.Background(), analytics.DefaultKey).Result()
		return left == 0 && srv.count() == n+3-1
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	want := testutil.GoldenExpected(t)
	for i, raw := range golden {
		rec := analytics.Record{Raw: raw, TimeStamp: int64(want[i].TimeStamp)}
		index := "iam-analytics-" + time.Unix(rec.TimeStamp, 0).UTC().Format("2006.01.02")
		if got := asRecord(t, srv.doc(index, rec.ID())); !testutil.SameRecord(got, want[i]) {
			t.Errorf("golden record %d stored as %+v, want %+v", i, got, want[i])
		}
	}
	var ids []string
	srv.mu.Lock()
	for _, docs := range srv.docs {
		for _, doc := range docs {
			if c, _ := doc["conclusion"].(string); strings.Contains(c, "id=") {
				ids = append(ids, testutil.IDOf(analytics.Record{Conclusion: c}))
			}
		}
	}
	srv.mu.Unlock()
	acc := testutil.Tally(ids, 0, n)
	if len(acc.Missing) != 1 || acc.Missing[0] != testutil.RecordID(17) || acc.Duplicates > 0 {
		t.Fatalf("missing %v (want only rec-17, refused), %d duplicated", acc.Missing[:min(5, len(acc.Missing))], acc.Duplicates)
	}
	letters, err := r.Client().LRange(context.Background(), dead, 0, -1).Result()
	if err != nil || len(letters) != 1 {
		t.Fatalf("dead letters %q (%v), want one", letters, err)
	}
	var letter struct {
		Reason string `json:"reason"`
		Pump   string `json:"pump"`
		Raw    []byte `json:"raw"`
	}
	if err := json.Unmarshal([]byte(letters[0]), &letter); err != nil {
		t.Fatalf("dead letter %q: %v", letters[0], err)
	}
	rec, err := analytics.Decode(letter.Raw)
	if err != nil || testutil.IDOf(rec) != testutil.RecordID(17) || letter.Pump != "es" ||
		!strings.Contains(letter.Reason, "status 400: mapper_parsing_exception") {
		t.Fatalf("dead letter %+v (%v), want rec-17 from pump es with Elasticsearch's reason", letter, err)
	}
}

func TestValidateNamesTheBadKey(t *testing.T) {
	testutil.NeedsBinary(t)
	tests := []struct {
		meta, want string
	}{
		{"{index_name: IAM}", `pumps.es.meta.index_name: must be lower case, got "IAM"`},
		{"{elasticsearch_url: 'es:9200'}", `pumps.es.meta.elasticsearch_url: want http(s)://host:port, comma-separated, got "es:9200"`},
		{"{bulk_config: {workers: 0}}", "pumps.es.meta.bulk_config.workers: must be between 1 and 64, got 0"},
		{"{index: iam}", `pumps.es.meta.index: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.meta, func(t *testing.T) {
			testutil.ValidateRejects(t, "  es:\n    type: elasticsearch\n    meta: "+tt.meta+"\n", tt.want)
		})
	}
}

// A record that cannot be encoded leaves no trace in the lines of the
// batch (one buffer holds them all): it alone is rejected, and its
// neighbours are stored whole, each under its own id. A second Write,
// reusing that buffer, stores its own documents, not the first one's.
func TestAnUnencodableRecordLeavesItsNeighboursWhole(t *testing.T) {
	srv := startES(t)
	e := newSink(t, pumps.Meta{"elasticsearch_url": srv.srv.URL})
	batch := testutil.Records(t, 0, 5)
	batch[2].ExpireAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // JSON has no such year
	err := testutil.Write(t, e, batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejections) != 1 || rej.Rejections[0].Index != 2 {
		t.Fatalf("Write = %v, want record 2 rejected alone", err)
	}
	if err := testutil.Write(t, e, testutil.Records(t, 5, 8)); err != nil {
		t.Fatal(err)
	}
	if srv.count() != 7 {
		t.Fatalf("%d documents stored, want 7", srv.count())
	}
	for i, r := range append(batch, testutil.Records(t, 5, 8)...) {
		doc := srv.doc("iam_analytics", r.ID())
		switch {
		case i == 2 && doc != nil:
			t.Errorf("the unencodable record was stored: %v", doc)
		case i != 2 && doc == nil:
			t.Errorf("record %d missing", i)
		case i != 2 && doc["conclusion"] != r.Conclusion:
			t.Errorf("record %d stored with conclusion %v, want %q", i, doc["conclusion"], r.Conclusion)
		}
	}
}
