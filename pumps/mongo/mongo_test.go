package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

const goldenDir = "../../../shared/testdata/iam-records"

// stored is a document read back: the record with iam's bson names, and
// its _id.
type stored struct {
	ID               string `bson:"_id"`
	analytics.Record `bson:",inline"`
}

// newSink configures and initialises a sink against db's collection coll.
func newSink(t *testing.T, meta pumps.Meta, setup ...func(*Mongo)) *Mongo {
	t.Helper()
	m := New()
	if err := m.Configure(meta); err != nil {
		t.Fatalf("Configure(%v): %v", meta, err)
	}
	m.Log = testLogger(t)
	for _, f := range setup {
		f(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// testLogger sends a sink's log lines to the test's log.
func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(testLog{t}, nil)) }

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// reader is a plain driver client the tests check the database with.
func reader(t *testing.T, f *FerretDB, db, coll string) *mongo.Collection {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(f.URL(db)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(db).Collection(coll)
}

func readAll(t *testing.T, c *mongo.Collection) map[string]stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := c.Find(ctx, bson.D{})
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	var docs []stored
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("read documents: %v", err)
	}
	out := make(map[string]stored, len(docs))
	for _, d := range docs {
		if _, dup := out[d.ID]; dup {
			t.Fatalf("_id %s stored twice", d.ID)
		}
		out[d.ID] = d
	}
	return out
}

func count(t *testing.T, c *mongo.Collection) int64 {
	t.Helper()
	n, err := c.CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func meta(url, coll string, kv ...any) pumps.Meta {
	m := pumps.Meta{"mongo_url": url, "collection_name": coll}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestConfigureRejectsBadMeta(t *testing.T) {
	ok := "mongodb://127.0.0.1:27017/iam"
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"no url", pumps.Meta{"collection_name": "c"},
			"meta.mongo_url: must be set, e.g. mongodb://user:pass@host:27017/iam_analytics"},
		{"wrong scheme", meta("http://127.0.0.1/iam", "c"),
			"meta.mongo_url: must start with mongodb:// or mongodb+srv://"},
		{"no host", meta("mongodb:///iam", "c"),
			"meta.mongo_url: error parsing uri: must have at least 1 host"},
		{"bad port", meta("mongodb://127.0.0.1:99999/iam", "c"),
			`meta.mongo_url: error parsing uri: invalid host in "127.0.0.1:99999": port must be in the range [1, 65535]`},
		// Query values are masked like any secret: the option's name shows.
		{"unknown option value", meta("mongodb://127.0.0.1/iam?connectTimeoutMS=soon", "c"),
			`meta.mongo_url: error parsing uri: invalid value for "connectTimeoutMS": "<redacted>"`},
		{"unacknowledged writes", meta("mongodb://127.0.0.1/iam?w=0", "c"),
			"meta.mongo_url: w=0 (unacknowledged writes) cannot be used: records leave Redis only once MongoDB acknowledges them"},
		{"srv with a port", meta("mongodb+srv://cluster.example.com:27017/iam", "c"),
			"meta.mongo_url: a mongodb+srv URL's host has no port"},
		{"srv with two hosts", meta("mongodb+srv://a.example.com,b.example.com/iam", "c"),
			"meta.mongo_url: a mongodb+srv URL names exactly one host"},
		{"bad password escape is not quoted", meta("mongodb://iam:s3cr%zzet@127.0.0.1/iam", "c"),
			"meta.mongo_url: the password is not a valid URL-escaped string"},
		{"password hidden in parse errors", meta("mongodb://iam:hunter2secret@127.0.0.1:0/iam", "c"),
			`meta.mongo_url: error parsing uri: invalid host in "127.0.0.1:0": port must be in the range [1, 65535]`},
		{"no collection", pumps.Meta{"mongo_url": ok},
			"meta.collection_name: must name the collection, e.g. iam_analytics"},
		{"dollar in collection", meta(ok, "a$b"),
			`meta.collection_name: "a$b": must not contain '$' or NUL`},
		{"system collection", meta(ok, "system.users"),
			`meta.collection_name: "system.users": names starting with "system." are reserved`},
		{"negative cap", meta(ok, "c", "collection_cap_max_size_bytes", -1),
			"meta.collection_cap_max_size_bytes: must be positive, got -1"},
		{"negative batch", meta(ok, "c", "max_insert_batch_size_bytes", -5),
			"meta.max_insert_batch_size_bytes: must be positive, got -5"},
		{"negative document", meta(ok, "c", "max_document_size_bytes", -1),
			"meta.max_document_size_bytes: must be positive, got -1"},
		{"document over MongoDB's limit", meta(ok, "c", "max_document_size_bytes", 17*MiB),
			"meta.max_document_size_bytes: must be at most 16777216 (MongoDB's limit on one document), got 17825792"},
		{"bad db type", meta(ok, "c", "mongo_db_type", 7),
			"meta.mongo_db_type: must be 0 (MongoDB) or 1 (AWS DocumentDB), got 7"},
		{"typo", meta(ok, "c", "colection_name", "x"),
			`meta.colection_name: unknown key (did you mean "collection_name"?)`},
		{"wrong type", meta(ok, "c", "collection_cap_enable", "maybe"),
			`meta.collection_cap_enable: want true or false, got "maybe"`},
		{"size as text", meta(ok, "c", "max_document_size_bytes", "10MB"),
			`meta.max_document_size_bytes: want a whole number, got "10MB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil {
				t.Fatalf("Configure accepted %v", tt.meta)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			for _, secret := range []string{"hunter2", "s3cr", "zzet"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the password: %s", err)
				}
			}
		})
	}
}

func TestConfigureAcceptsIAMMeta(t *testing.T) {
	// Every key iam-pump's mongo pump reads, as an iam file would have them.
	m := New()
	err := m.Configure(pumps.Meta{
		"mongo_url":                         "mongodb://iam:iam59!z$@127.0.0.1:27017/iam_analytics?authSource=iam_analytics",
		"collection_name":                   "iam_analytics",
		"collection_cap_enable":             true,
		"collection_cap_max_size_bytes":     0,
		"max_insert_batch_size_bytes":       0,
		"max_document_size_bytes":           0,
		"mongo_use_ssl":                     false,
		"mongo_ssl_insecure_skip_verify":    false,
		"mongo_ssl_allow_invalid_hostnames": false,
		"mongo_ssl_ca_file":                 "",
		"mongo_ssl_pem_keyfile":             "",
		"mongo_db_type":                     0,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL:                       "mongodb://iam:iam59!z$@127.0.0.1:27017/iam_analytics?authSource=iam_analytics",
		CollectionName:            "iam_analytics",
		CollectionCapEnable:       true,
		CollectionCapMaxSizeBytes: 5 << 30,
		MaxInsertBatchSizeBytes:   10 << 20,
		MaxDocumentSizeBytes:      10 << 20,
	}
	if m.cfg != want {
		t.Errorf("config\n got: %+v\nwant: %+v", m.cfg, want)
	}
	if m.database != "iam_analytics" {
		t.Errorf("database %q, want iam_analytics", m.database)
	}

	srv := New()
	if err := srv.Configure(meta("mongodb+srv://iam:pw@cluster0.example.com/iam?retryWrites=true", "c")); err != nil {
		t.Errorf("mongodb+srv URL: %v", err)
	}
	none := New()
	if err := none.Configure(meta("mongodb://127.0.0.1", "c")); err != nil {
		t.Fatal(err)
	}
	if none.database != DefaultDatabase {
		t.Errorf("database %q for a URL without one, want %q as mgo used", none.database, DefaultDatabase)
	}
}

// TestGoldenRecordsRoundTrip writes iam's own records and reads every field
// back under iam's bson names.
func TestGoldenRecordsRoundTrip(t *testing.T) {
	f := StartFerretDB(t)
	m := newSink(t, meta(f.URL("iam"), "golden"))

	var expected []struct {
		File   string          `json:"file"`
		Record json.RawMessage `json:"record"`
	}
	b, err := os.ReadFile(filepath.Join(goldenDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	if len(expected) != 3 {
		t.Fatalf("expected.json lists %d records, want 3", len(expected))
	}
	var batch []analytics.Record
	var want []analytics.Record
	for _, e := range expected {
		raw, err := os.ReadFile(filepath.Join(goldenDir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		r, err := analytics.Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		batch = append(batch, r)
		var w analytics.Record
		if err := json.Unmarshal(e.Record, &w); err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		w.Raw = raw
		want = append(want, w)
	}
	if err := testutil.Write(t, m, batch); err != nil {
		t.Fatalf("Write: %v", err)
	}

	c := reader(t, f, "iam", "golden")
	got := readAll(t, c)
	if len(got) != len(want) {
		t.Fatalf("%d documents, want %d", len(got), len(want))
	}
	for i, w := range want {
		d, ok := got[w.ID()]
		if !ok {
			t.Errorf("%s: no document with _id %s", expected[i].File, w.ID())
			continue
		}
		checks := []struct {
			field     string
			got, want any
		}{
			{"timestamp", d.TimeStamp, w.TimeStamp},
			{"username", d.Username, w.Username},
			{"effect", d.Effect, w.Effect},
			{"conclusion", d.Conclusion, w.Conclusion},
			{"request", d.Request, w.Request},
			{"policies", d.Policies, w.Policies},
			{"deciders", d.Deciders, w.Deciders},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s = %q, want %q", expected[i].File, c.field, c.got, c.want)
			}
		}
		// BSON dates hold milliseconds.
		if wantT := w.ExpireAt.Truncate(time.Millisecond); !d.ExpireAt.Equal(wantT) {
			t.Errorf("%s: expireAt = %v, want %v", expected[i].File, d.ExpireAt, wantT)
		}
	}

	// The stored documents use exactly iam's field names, and a zero
	// expireAt (record 3) is left out so a TTL index keeps the document.
	for i, w := range want {
		var raw bson.Raw
		if err := c.FindOne(context.Background(), bson.D{{Key: "_id", Value: w.ID()}}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		elems, err := raw.Elements()
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range elems {
			keys = append(keys, e.Key())
		}
		wantKeys := "_id timestamp username effect conclusion request policies deciders expireAt"
		if w.ExpireAt.IsZero() {
			wantKeys = strings.TrimSuffix(wantKeys, " expireAt")
		}
		if strings.Join(keys, " ") != wantKeys {
			t.Errorf("%s: fields %v, want %s", expected[i].File, keys, wantKeys)
		}
		if typ := raw.Lookup("timestamp").Type; typ != bson.TypeInt64 {
			t.Errorf("%s: timestamp stored as %v, want int64", expected[i].File, typ)
		}
		if v, err := raw.LookupErr("expireAt"); err == nil && v.Type != bson.TypeDateTime {
			t.Errorf("%s: expireAt stored as %v, want a date", expected[i].File, v.Type)
		}
	}
}

func TestRedeliveryAddsNoDuplicates(t *testing.T) {
	f := StartFerretDB(t)
	m := newSink(t, meta(f.URL("iam"), "redelivery"))
	c := reader(t, f, "iam", "redelivery")

	steps := []struct {
		name     string
		from, to int
		want     int64
	}{
		{"first delivery", 0, 20, 20},
		{"the same batch again", 0, 20, 20},
		{"a window overlapping the last one", 10, 30, 30},
		{"only old records", 5, 15, 30},
	}
	for _, s := range steps {
		if err := testutil.Write(t, m, testutil.Records(t, s.from, s.to)); err != nil {
			t.Fatalf("%s: Write: %v", s.name, err)
		}
		if n := count(t, c); n != s.want {
			t.Fatalf("%s: %d documents, want %d", s.name, n, s.want)
		}
	}
	got := readAll(t, c)
	for _, r := range testutil.Records(t, 0, 30) {
		d, ok := got[r.ID()]
		if !ok {
			t.Fatalf("record %s missing", testutil.IDOf(r))
		}
		if testutil.IDOf(d.Record) != testutil.IDOf(r) {
			t.Errorf("_id %s holds %s, want %s", r.ID(), testutil.IDOf(d.Record), testutil.IDOf(r))
		}
	}
}

// insertCounter counts the insert commands a client sends and the
// documents in each.
type insertCounter struct {
	mu   sync.Mutex
	docs []int
}

func (c *insertCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "insert" {
			return
		}
		n := 0
		if v, err := e.Command.LookupErr("documents"); err == nil {
			vals, _ := v.Array().Values()
			n = len(vals)
		}
		c.mu.Lock()
		c.docs = append(c.docs, n)
		c.mu.Unlock()
	}}
}

func (c *insertCounter) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.docs
	c.docs = nil
	return out
}

func TestInsertsSplitByMaxInsertBatchSize(t *testing.T) {
	f := StartFerretDB(t)
	batch := testutil.Records(t, 10, 20) // ids of two digits
	for i := range batch {
		batch[i].Effect = "allow" // and one effect: documents of one size
	}
	size := len(Document(batch[0].ID(), &batch[0]))
	for _, r := range batch {
		if n := len(Document(r.ID(), &r)); n != size {
			t.Fatalf("seeded documents differ in size (%d, %d); the test needs them equal", n, size)
		}
	}
	tests := []struct {
		name  string
		limit int
		want  []int // documents per insert command
	}{
		{"default fits all", 0, []int{10}},
		{"three documents per insert", 3*size + size/2, []int{3, 3, 3, 1}},
		{"exactly five documents", 5 * size, []int{5, 5}},
		{"limit below one document sends one each", size / 2, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := &insertCounter{}
			coll := fmt.Sprintf("split%d", i)
			m := newSink(t, meta(f.URL("iam"), coll, "max_insert_batch_size_bytes", tt.limit),
				func(m *Mongo) { m.monitor = ic.monitor() })
			if err := testutil.Write(t, m, batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := ic.take(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("inserts carried %v documents, want %v", got, tt.want)
			}
			if n := count(t, reader(t, f, "iam", coll)); n != 10 {
				t.Errorf("%d documents stored, want 10", n)
			}
		})
	}
}

func TestOversizeDocumentsAreTrimmedThenRejected(t *testing.T) {
	f := StartFerretDB(t)
	var logs testutil.SyncBuffer
	m := newSink(t, meta(f.URL("iam"), "oversize", "max_document_size_bytes", 4096),
		func(m *Mongo) { m.Log = slog.New(slog.NewTextHandler(&logs, nil)) })

	batch := testutil.Records(t, 0, 4)
	// 1: too large with its details, fits without them.
	batch[1].Policies = strings.Repeat("p", 3000)
	batch[1].Deciders = strings.Repeat("d", 2000)
	// 3: too large even without them (a giant conclusion).
	batch[3].Conclusion = strings.Repeat("c", 5000) + " id=" + testutil.RecordID(3)

	err := testutil.Write(t, m, batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("Write returned %v, want a *pumps.RejectedError", err)
	}
	if len(rej.Rejections) != 1 || rej.Rejections[0].Index != 3 {
		t.Fatalf("rejections %+v, want only index 3", rej.Rejections)
	}
	wantMsg := fmt.Sprintf("mongo: document %s is 5", batch[3].ID())
	if msg := rej.Rejections[0].Err.Error(); !strings.HasPrefix(msg, wantMsg) ||
		!strings.HasSuffix(msg, "bytes without request, policies and deciders, over max_document_size_bytes 4096") {
		t.Errorf("rejection reason %q", msg)
	}

	got := readAll(t, reader(t, f, "iam", "oversize"))
	if len(got) != 3 {
		t.Fatalf("%d documents stored, want 3 (all but the rejected one)", len(got))
	}
	if _, ok := got[batch[3].ID()]; ok {
		t.Error("the rejected document was stored")
	}
	trimmed := got[batch[1].ID()]
	if trimmed.Request != "" || trimmed.Policies != "" || trimmed.Deciders != "" {
		t.Errorf("oversize document kept its details: request %d, policies %d, deciders %d bytes",
			len(trimmed.Request), len(trimmed.Policies), len(trimmed.Deciders))
	}
	if trimmed.Username != batch[1].Username || testutil.IDOf(trimmed.Record) != testutil.RecordID(1) {
		t.Errorf("trimmed document lost its other fields: %+v", trimmed.Record)
	}
	if whole := got[batch[0].ID()]; whole.Policies != batch[0].Policies {
		t.Error("a document within the limit was trimmed")
	}
	if !strings.Contains(logs.String(), "count=1") {
		t.Errorf("no warning about the trimmed document; log:\n%s", logs.String())
	}
	// The caller's records are not changed.
	if len(batch[1].Policies) != 3000 {
		t.Error("Write changed the caller's record")
	}
}

func TestUnreachableServerIsTransient(t *testing.T) {
	f := StartFerretDB(t)
	m := newSink(t, meta(f.URL("iam"), "outage"))
	if err := testutil.Write(t, m, testutil.Records(t, 0, 5)); err != nil {
		t.Fatalf("Write before the outage: %v", err)
	}

	f.Stop()
	// The first write finds its pooled connection closed; the second finds
	// no server to select and waits for it until the deadline.
	const timeout = 2 * time.Second
	for _, attempt := range []string{"first", "second"} {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		err := m.Write(ctx, testutil.Records(t, 5, 10))
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("%s Write succeeded with the server down", attempt)
		}
		if pumps.IsPermanent(err) {
			t.Errorf("%s Write: an outage is reported as permanent: %v", attempt, err)
		}
		var rej *pumps.RejectedError
		if errors.As(err, &rej) {
			t.Errorf("%s Write: an outage rejected records: %v", attempt, err)
		}
		if took > timeout+15*time.Second { // the driver's own server selection gives up after 30s
			t.Errorf("%s Write took %v with a %v timeout", attempt, took, timeout)
		}
		t.Logf("%s Write during the outage: %v (after %v)", attempt, err, took.Round(time.Millisecond))
	}

	f.Start()
	testutil.Eventually(t, 30*time.Second, "Write succeeds after FerretDB is back", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return m.Write(ctx, testutil.Records(t, 5, 10)) == nil
	})
	if n := count(t, reader(t, f, "iam", "outage")); n != 10 {
		t.Errorf("%d documents after the outage, want 10", n)
	}
}

func TestInitFailsWithoutServerAndHidesPassword(t *testing.T) {
	port := testutil.FreePort(t) // nothing listens there
	url := fmt.Sprintf("mongodb://iam:pa55word-xyz@127.0.0.1:%d/iam?serverSelectionTimeoutMS=300", port)
	var logs testutil.SyncBuffer
	m := New()
	m.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if err := m.Configure(meta(url, "c")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Init(ctx)
	if err == nil {
		t.Fatal("Init succeeded without a server")
	}
	if strings.Contains(err.Error(), "pa55word") || strings.Contains(logs.String(), "pa55word") {
		t.Errorf("password shown: error %q, log %q", err, logs.String())
	}
	if !strings.HasPrefix(err.Error(), "mongo: create TTL index on c.expireAt: ") {
		t.Errorf("error %q does not say what failed", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("Close after a failed Init: %v", err)
	}
	if err := m.Write(ctx, testutil.Records(t, 0, 1)); err == nil {
		t.Error("Write on a sink whose Init failed succeeded")
	}
}

func TestCappedCollection(t *testing.T) {
	f := StartFerretDB(t)
	db := reader(t, f, "iam", "unused").Database()

	t.Run("created capped when missing", func(t *testing.T) {
		m := newSink(t, meta(f.URL("iam"), "capped", "collection_cap_enable", true,
			"collection_cap_max_size_bytes", 1<<20))
		if err := testutil.Write(t, m, testutil.Records(t, 0, 3)); err != nil {
			t.Fatal(err)
		}
		opts := collectionOptions(t, db, "capped")
		if capped, _ := opts["capped"].(bool); !capped {
			t.Fatalf("collection options %v, want capped", opts)
		}
		if size := fmt.Sprint(opts["size"]); size != "1048576" {
			t.Errorf("cap size %s, want 1048576", size)
		}
	})

	t.Run("existing collection left as it is", func(t *testing.T) {
		if err := db.CreateCollection(context.Background(), "plain"); err != nil {
			t.Fatal(err)
		}
		var logs testutil.SyncBuffer
		m := newSink(t, meta(f.URL("iam"), "plain", "collection_cap_enable", true),
			func(m *Mongo) { m.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
		if err := testutil.Write(t, m, testutil.Records(t, 0, 3)); err != nil {
			t.Fatal(err)
		}
		if capped, _ := collectionOptions(t, db, "plain")["capped"].(bool); capped {
			t.Error("an existing collection was capped")
		}
		if !strings.Contains(logs.String(), "collection exists and is not capped") {
			t.Errorf("no warning; log:\n%s", logs.String())
		}
	})

	t.Run("cap not requested", func(t *testing.T) {
		m := newSink(t, meta(f.URL("iam"), "uncapped"))
		if err := testutil.Write(t, m, testutil.Records(t, 0, 3)); err != nil {
			t.Fatal(err)
		}
		if capped, _ := collectionOptions(t, db, "uncapped")["capped"].(bool); capped {
			t.Error("collection capped without collection_cap_enable")
		}
	})
}

func collectionOptions(t *testing.T, db *mongo.Database, name string) bson.M {
	t.Helper()
	specs, err := db.ListCollectionSpecifications(context.Background(), bson.D{{Key: "name", Value: name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 {
		t.Fatalf("collection %s: %d specifications", name, len(specs))
	}
	var opts bson.M
	if specs[0].Options != nil {
		if err := bson.Unmarshal(specs[0].Options, &opts); err != nil {
			t.Fatal(err)
		}
	}
	return opts
}

// TestTTLIndex: iam's documents carry expireAt; MongoDB deletes them then
// through a TTL index. FerretDB 1.24 cannot create TTL indexes
// (expireAfterSeconds is "not implemented"), so there the test checks that
// the sink says so and still works.
func TestTTLIndex(t *testing.T) {
	f := StartFerretDB(t)
	var logs testutil.SyncBuffer
	m := newSink(t, meta(f.URL("iam"), "ttl"),
		func(m *Mongo) { m.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	if err := testutil.Write(t, m, testutil.Records(t, 0, 3)); err != nil {
		t.Fatal(err)
	}
	c := reader(t, f, "iam", "ttl")
	cur, err := c.Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var idx []bson.M
	if err := cur.All(context.Background(), &idx); err != nil {
		t.Fatal(err)
	}
	for _, ix := range idx {
		if ix["name"] == "expireAt_1" {
			if fmt.Sprint(ix["expireAfterSeconds"]) != "0" {
				t.Errorf("TTL index %v, want expireAfterSeconds 0", ix)
			}
			return
		}
	}
	if !isFerretDB(t, c.Database()) {
		t.Fatalf("no TTL index on expireAt: %v", idx)
	}
	t.Logf("FerretDB has no TTL indexes; the sink warned and went on")
	if !strings.Contains(logs.String(), "cannot create a TTL index") {
		t.Errorf("no warning about the missing TTL index; log:\n%s", logs.String())
	}
}

func isFerretDB(t *testing.T, db *mongo.Database) bool {
	t.Helper()
	var info bson.M
	if err := db.RunCommand(context.Background(), bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatal(err)
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

func TestCloseWaitsForTheWriteInFlight(t *testing.T) {
	f := StartFerretDB(t)
	started := make(chan struct{})
	var once sync.Once
	m := New()
	if err := m.Configure(meta(f.URL("iam"), "closing", "max_insert_batch_size_bytes", 4096)); err != nil {
		t.Fatal(err)
	}
	m.monitor = &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "insert" {
			once.Do(func() { close(started) })
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}

	var wrote time.Time
	werr := make(chan error, 1)
	batch := testutil.Records(t, 0, 200)
	go func() {
		err := m.Write(ctx, batch)
		wrote = time.Now()
		werr <- err
	}()
	<-started
	if err := m.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed := time.Now()
	if err := <-werr; err != nil {
		t.Fatalf("the write in flight failed: %v", err)
	}
	if wrote.After(closed) {
		t.Error("Close returned before the write in flight")
	}
	if n := count(t, reader(t, f, "iam", "closing")); n != 200 {
		t.Errorf("%d documents, want 200", n)
	}
	if err := m.Write(ctx, testutil.Records(t, 0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestRegistered(t *testing.T) {
	info, ok := pumps.Lookup("mongo")
	if !ok {
		t.Fatal("mongo is not registered")
	}
	if !strings.Contains(info.Sample, "mongo_url:") || !strings.Contains(info.Sample, "type: mongo") {
		t.Errorf("sample:\n%s", info.Sample)
	}
	if _, ok := info.New().(*Mongo); !ok {
		t.Errorf("New returns %T", info.New())
	}
}

func BenchmarkDocument(b *testing.B) {
	r, err := analytics.Decode(testutil.EncodedRecord(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	id := r.ID()
	b.ReportAllocs()
	for b.Loop() {
		_ = Document(id, &r)
	}
}

func TestRecordIDWithoutRawBytes(t *testing.T) {
	a, b := testutil.MakeRecord(1), testutil.MakeRecord(2) // made in code: no Raw
	if recordID(&a) == recordID(&b) {
		t.Error("two different records without Raw share an _id")
	}
	if again := testutil.MakeRecord(1); recordID(&again) != recordID(&a) {
		t.Error("the same record without Raw gets two _ids")
	}
	decoded, err := analytics.Decode(testutil.EncodedRecord(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if recordID(&decoded) != decoded.ID() {
		t.Error("a record read from Redis does not use Record.ID")
	}
	if recordID(&a) != decoded.ID() {
		t.Error("a record without Raw is not hashed as iam encodes it")
	}
}
