package mongo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "mongo",
		Description: "MongoDB collection, iam-compatible documents with an idempotent _id",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Mongo).cfg },
	})
}

// Sizes, as iam-pump defines them.
const (
	MiB = 1 << 20
	GiB = 1 << 30

	// DefaultMaxDocumentSize and DefaultMaxInsertBatchSize are iam-pump's
	// defaults for max_document_size_bytes and max_insert_batch_size_bytes.
	DefaultMaxDocumentSize    = 10 * MiB
	DefaultMaxInsertBatchSize = 10 * MiB
	// DefaultCapSize is iam-pump's collection_cap_max_size_bytes default.
	DefaultCapSize = 5 * GiB
	// MaxBSONDocumentSize is MongoDB's own limit on one document.
	MaxBSONDocumentSize = 16 * MiB

	// DefaultDatabase is used when mongo_url names no database, as mgo
	// (iam-pump's driver) did.
	DefaultDatabase = "test"
)

// Timeouts that apply unless mongo_url sets connectTimeoutMS,
// serverSelectionTimeoutMS or timeoutMS. A Write's context (the pump's
// timeout) bounds each write further.
const (
	defaultConnectTimeout         = 10 * time.Second
	defaultServerSelectionTimeout = 15 * time.Second
	// defaultOperationTimeout bounds an operation whose context has no
	// deadline (a pump with timeout 0), so a hung server cannot hang the pump.
	defaultOperationTimeout = 60 * time.Second
)

// Config is the mongo pump's meta, with iam-pump's key names.
type Config struct {
	URL                       string `yaml:"mongo_url" help:"mongodb:// or mongodb+srv:// connection string. Its database is used (test when it names none, as with iam-pump's driver). Any driver option may be given here (maxPoolSize, connectTimeoutMS, w, tls, ...). w=0 is refused." required:"true"`
	CollectionName            string `yaml:"collection_name" help:"collection to write to; MongoDB's naming rules apply (no $, not system.*)" required:"true"`
	CollectionCapEnable       bool   `yaml:"collection_cap_enable" help:"create the collection capped when it does not exist (see below)"`
	CollectionCapMaxSizeBytes int64  `yaml:"collection_cap_max_size_bytes" help:"size of that capped collection"`
	MaxInsertBatchSizeBytes   int    `yaml:"max_insert_batch_size_bytes" help:"one insert command carries at most this many bytes of documents; a larger batch is split into several inserts"`
	MaxDocumentSizeBytes      int    `yaml:"max_document_size_bytes" help:"larger documents are trimmed, then rejected (see below); at most 16 MiB, MongoDB's own limit"`

	UseSSL                   bool   `yaml:"mongo_use_ssl" help:"connect with TLS"`
	SSLInsecureSkipVerify    bool   `yaml:"mongo_ssl_insecure_skip_verify" help:"accept any server certificate"`
	SSLAllowInvalidHostnames bool   `yaml:"mongo_ssl_allow_invalid_hostnames" help:"check the certificate chain but not the host name"`
	SSLCAFile                string `yaml:"mongo_ssl_ca_file" help:"PEM file of the CAs that sign the server's certificate"`
	SSLPEMKeyfile            string `yaml:"mongo_ssl_pem_keyfile" help:"PEM file with a client certificate and its key"`
	// DBType is iam-pump's mongo_db_type (0 MongoDB, 1 AWS DocumentDB). It
	// is accepted so iam files load; the driver needs no hint.
	DBType int `yaml:"mongo_db_type" help:"iam-pump's hint (0 MongoDB, 1 AWS DocumentDB); accepted so iam files load, not needed"`
}

// Mongo writes each record as one document of a collection. The document's
// _id is the record's ID (a hash of its bytes), so a batch delivered again
// after a crash adds nothing.
type Mongo struct {
	cfg      Config
	database string
	secrets  redact.Secrets // what mongo_url carries, scrubbed from every error and log line

	// Log receives warnings (a collection that cannot be capped, a server
	// without TTL indexes, trimmed documents). slog.Default() unless set.
	Log *slog.Logger
	log *slog.Logger // Log with the sink's name

	client *mongo.Client
	coll   *mongo.Collection

	// writing holds a token per Write running (several with the pump's
	// workers); Close takes every token to wait for the writes in flight.
	writing chan struct{}
	closed  atomic.Bool

	// monitor, when set before Init, watches the commands the client
	// sends (tests count inserts with it).
	monitor *event.CommandMonitor
}

// maxWrites is how many Writes may run at once: the pump's workers, at
// most 64 (config.MaxWorkers).
const maxWrites = 64

// New returns an unconfigured mongo sink.
func New() *Mongo {
	return &Mongo{
		cfg: Config{
			CollectionCapMaxSizeBytes: DefaultCapSize,
			MaxInsertBatchSizeBytes:   DefaultMaxInsertBatchSize,
			MaxDocumentSizeBytes:      DefaultMaxDocumentSize,
		},
		writing: make(chan struct{}, maxWrites),
	}
}

// Configure implements pumps.Sink. It checks the meta without any I/O.
func (m *Mongo) Configure(meta pumps.Meta) error {
	if err := pumps.DecodeMeta(meta, &m.cfg); err != nil {
		var s redact.Secrets
		for _, v := range meta {
			if str, ok := v.(string); ok {
				s.AddURLs(str)
			}
		}
		return s.Error(err)
	}
	c := &m.cfg
	if c.URL == "" {
		return errors.New("meta.mongo_url: must be set, e.g. mongodb://user:pass@host:27017/iam_analytics")
	}
	cs, err := parseURL(c.URL)
	if err != nil {
		if strings.Contains(err.Error(), "password") {
			// The parser may quote part of the password (a bad escape).
			return errors.New("meta.mongo_url: the password is not a valid URL-escaped string")
		}
		msg := strings.Replace(err.Error(), `invalid host ""`, fmt.Sprintf("invalid host in %q", hostsOf(c.URL)), 1)
		var s redact.Secrets
		s.AddURLs(c.URL)
		return fmt.Errorf("meta.mongo_url: %s", s.String(msg))
	}
	if cs.WNumberSet && cs.WNumber == 0 && cs.WString == "" {
		return errors.New("meta.mongo_url: w=0 (unacknowledged writes) cannot be used: records leave Redis only once MongoDB acknowledges them")
	}
	m.secrets = redact.Secrets{}
	m.secrets.AddURLs(c.URL)
	m.secrets.Add(cs.Password)
	m.database = cs.Database
	if m.database == "" {
		m.database = DefaultDatabase
	}
	if err := checkCollectionName(c.CollectionName); err != nil {
		return fmt.Errorf("meta.collection_name: %w", err)
	}
	// 0 means "the default", as in iam-pump.
	if c.CollectionCapMaxSizeBytes == 0 {
		c.CollectionCapMaxSizeBytes = DefaultCapSize
	}
	if c.MaxInsertBatchSizeBytes == 0 {
		c.MaxInsertBatchSizeBytes = DefaultMaxInsertBatchSize
	}
	if c.MaxDocumentSizeBytes == 0 {
		c.MaxDocumentSizeBytes = DefaultMaxDocumentSize
	}
	switch {
	case c.CollectionCapMaxSizeBytes < 0:
		return fmt.Errorf("meta.collection_cap_max_size_bytes: must be positive, got %d", c.CollectionCapMaxSizeBytes)
	case c.MaxInsertBatchSizeBytes < 0:
		return fmt.Errorf("meta.max_insert_batch_size_bytes: must be positive, got %d", c.MaxInsertBatchSizeBytes)
	case c.MaxDocumentSizeBytes < 0:
		return fmt.Errorf("meta.max_document_size_bytes: must be positive, got %d", c.MaxDocumentSizeBytes)
	case c.MaxDocumentSizeBytes > MaxBSONDocumentSize:
		return fmt.Errorf("meta.max_document_size_bytes: must be at most %d (MongoDB's limit on one document), got %d",
			MaxBSONDocumentSize, c.MaxDocumentSizeBytes)
	case c.DBType != 0 && c.DBType != 1:
		return fmt.Errorf("meta.mongo_db_type: must be 0 (MongoDB) or 1 (AWS DocumentDB), got %d", c.DBType)
	}
	return nil
}

// parseURL checks mongo_url with the driver's own parser. A mongodb+srv URL
// is checked as if it were mongodb:// (the driver would look up its DNS
// records, and Configure does no I/O), plus the SRV rule of one host and no
// port.
func parseURL(s string) (*connstring.ConnString, error) {
	srv := strings.HasPrefix(s, connstring.SchemeMongoDBSRV+"://")
	check := s
	if srv {
		check = connstring.SchemeMongoDB + "://" + strings.TrimPrefix(s, connstring.SchemeMongoDBSRV+"://")
	}
	if !srv && !strings.HasPrefix(s, connstring.SchemeMongoDB+"://") {
		return nil, errors.New(`must start with mongodb:// or mongodb+srv://`)
	}
	cs, err := connstring.ParseAndValidate(check)
	if err != nil {
		return nil, err
	}
	if srv {
		if len(cs.Hosts) != 1 {
			return nil, errors.New("a mongodb+srv URL names exactly one host")
		}
		if strings.Contains(cs.Hosts[0], ":") {
			return nil, errors.New("a mongodb+srv URL's host has no port")
		}
	}
	return cs, nil
}

// checkCollectionName applies MongoDB's rules for collection names.
func checkCollectionName(name string) error {
	switch {
	case name == "":
		return errors.New("must name the collection, e.g. iam_analytics")
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Errorf("%q: must not contain '$' or NUL", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("%q: names starting with \"system.\" are reserved", name)
	}
	return nil
}

// Init implements pumps.Sink: it connects, creates the capped collection
// when asked and missing, and the TTL index on expireAt.
func (m *Mongo) Init(ctx context.Context) error {
	base := m.Log
	if base == nil {
		base = slog.Default()
	}
	m.log = base.With("sink", "mongo")
	opts, err := m.clientOptions()
	if err != nil {
		return err
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return m.errorf("connect to %s: %w", redact.Text(m.cfg.URL), err)
	}
	wc := options.Collection()
	if opts.WriteConcern == nil {
		wc.SetWriteConcern(writeconcern.Majority())
	}
	m.client = client
	m.coll = client.Database(m.database).Collection(m.cfg.CollectionName, wc)
	if err := m.prepare(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		m.client, m.coll = nil, nil
		return err
	}
	m.log.Info("connected", "url", redact.Text(m.cfg.URL), "database", m.database, "collection", m.cfg.CollectionName)
	return nil
}

func (m *Mongo) clientOptions() (*options.ClientOptions, error) {
	opts := options.Client().
		SetAppName("pump").
		SetConnectTimeout(defaultConnectTimeout).
		SetServerSelectionTimeout(defaultServerSelectionTimeout).
		SetTimeout(defaultOperationTimeout)
	opts.ApplyURI(m.cfg.URL) // overrides the defaults with what the URL sets
	if err := opts.Validate(); err != nil {
		return nil, m.errorf("mongo_url: %w", err)
	}
	if m.cfg.UseSSL {
		tc, err := m.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	}
	if m.monitor != nil {
		opts.SetMonitor(m.monitor)
	}
	return opts, nil
}

// tlsConfig builds the TLS settings of iam-pump's mongo_ssl_* keys.
func (m *Mongo) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: m.cfg.SSLInsecureSkipVerify}
	if m.cfg.SSLCAFile != "" {
		pem, err := os.ReadFile(m.cfg.SSLCAFile)
		if err != nil {
			return nil, m.errorf("mongo_ssl_ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, m.errorf("mongo_ssl_ca_file: no PEM certificate in %s", m.cfg.SSLCAFile)
		}
	}
	if m.cfg.SSLPEMKeyfile != "" {
		cert, err := tls.LoadX509KeyPair(m.cfg.SSLPEMKeyfile, m.cfg.SSLPEMKeyfile)
		if err != nil {
			return nil, m.errorf("mongo_ssl_pem_keyfile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if m.cfg.SSLAllowInvalidHostnames && !m.cfg.SSLInsecureSkipVerify {
		// Verify the chain but not the name: Go's verifier does both unless
		// told to skip, so skip it and verify the chain here.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("mongo: server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// Server error codes the sink reacts to.
const (
	codeNamespaceExists       = 48
	codeCommandNotFound       = 59
	codeInvalidNamespace      = 73
	codeIndexOptionsConflict  = 85
	codeIndexKeySpecsConflict = 86
	codeNotImplemented        = 238
	codeDuplicateKey          = 11000
)

// prepare creates the capped collection and the TTL index.
func (m *Mongo) prepare(ctx context.Context) error {
	if m.cfg.CollectionCapEnable {
		if err := m.capCollection(ctx); err != nil {
			return err
		}
	}
	_, err := m.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expireAt", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	switch {
	case err == nil:
	case hasCode(err, codeNotImplemented, codeCommandNotFound):
		// FerretDB, for one, has no TTL indexes. Records are still written;
		// they just do not expire by themselves.
		m.log.Warn("the server cannot create a TTL index on expireAt; documents will not expire",
			"collection", m.cfg.CollectionName, "error", m.scrub(err))
	case hasCode(err, codeIndexOptionsConflict, codeIndexKeySpecsConflict):
		m.log.Warn("an index on expireAt with other options exists; leaving it as it is",
			"collection", m.cfg.CollectionName, "error", m.scrub(err))
	default:
		return m.errorf("create TTL index on %s.expireAt: %w", m.cfg.CollectionName, err)
	}
	return nil
}

// capCollection creates the collection capped at collection_cap_max_size_bytes
// unless it exists. As in iam-pump, an existing collection is left as it is
// (capping it would mean copying it), with a warning when it is not capped.
// Unlike iam-pump, a capped collection that cannot be created fails Init:
// the operator asked for a bound on the disk the analytics may take, and
// running unbounded would break that.
func (m *Mongo) capCollection(ctx context.Context) error {
	name := m.cfg.CollectionName
	db := m.coll.Database()
	err := db.CreateCollection(ctx, name,
		options.CreateCollection().SetCapped(true).SetSizeInBytes(m.cfg.CollectionCapMaxSizeBytes))
	switch {
	case err == nil:
		m.log.Info("capped collection created", "collection", name, "bytes", m.cfg.CollectionCapMaxSizeBytes)
		return nil
	case hasCode(err, codeNamespaceExists):
		specs, lerr := db.ListCollectionSpecifications(ctx, bson.D{{Key: "name", Value: name}})
		if lerr != nil {
			m.log.Warn("collection exists; collection_cap_enable leaves it as it is, capped or not",
				"collection", name, "error", m.scrub(lerr))
			return nil
		}
		var o struct {
			Capped bool `bson:"capped"`
		}
		if len(specs) > 0 && specs[0].Options != nil {
			_ = bson.Unmarshal(specs[0].Options, &o)
		}
		if !o.Capped {
			m.log.Warn("collection exists and is not capped; collection_cap_enable leaves it as it is", "collection", name)
		}
		return nil
	default:
		return m.errorf("create capped collection %s of %d bytes (collection_cap_enable): %w",
			name, m.cfg.CollectionCapMaxSizeBytes, err)
	}
}

// Write implements pumps.Sink. It inserts the batch unordered in chunks of at
// most max_insert_batch_size_bytes, with an acknowledged write concern. A
// document that was already inserted (same _id: the same record delivered
// again) counts as written. Documents over max_document_size_bytes lose
// request, policies and deciders; those still too large are returned in a
// *pumps.RejectedError.
func (m *Mongo) Write(ctx context.Context, batch []analytics.Record) error {
	select {
	case m.writing <- struct{}{}:
	case <-ctx.Done():
		return m.errorf("wait for the previous write: %w", ctx.Err())
	}
	defer func() { <-m.writing }()
	if m.closed.Load() || m.coll == nil {
		return errors.New("mongo: write on a sink that is closed or was never initialised")
	}

	docs, rejected, trimmed := m.encode(batch)
	if trimmed > 0 {
		m.log.Warn("documents over max_document_size_bytes written without request, policies and deciders",
			"count", trimmed, "max_document_size_bytes", m.cfg.MaxDocumentSizeBytes)
	}
	for _, chunk := range m.chunks(docs) {
		rej, err := m.insert(ctx, chunk)
		if err != nil {
			return err
		}
		rejected = append(rejected, rej...)
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// doc is one encoded record and its place in the batch.
type doc struct {
	index int
	raw   bson.Raw
}

// encode turns the batch into BSON documents, trimming or rejecting those
// over the size limit.
func (m *Mongo) encode(batch []analytics.Record) (docs []doc, rejected []pumps.Rejection, trimmed int) {
	docs = make([]doc, 0, len(batch))
	max := m.cfg.MaxDocumentSizeBytes
	for i := range batch {
		r := &batch[i]
		id := recordID(r)
		raw := Document(id, r)
		if len(raw) > max {
			slim := *r
			slim.Request, slim.Policies, slim.Deciders, slim.JSON = "", "", "", nil
			raw = Document(id, &slim)
			if len(raw) > max {
				rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf(
					"mongo: document %s is %d bytes without request, policies and deciders, over max_document_size_bytes %d",
					id, len(raw), max)})
				continue
			}
			trimmed++
		}
		docs = append(docs, doc{index: i, raw: raw})
	}
	return docs, rejected, trimmed
}

// recordID is the document's _id: the record's ID, a hash of the bytes it
// was read as. A record made in code, without those bytes, is hashed as iam
// would encode it, so it still gets an id of its own.
func recordID(r *analytics.Record) string {
	if len(r.Raw) > 0 {
		return r.ID()
	}
	raw, err := analytics.Encode(r)
	if err != nil {
		return r.ID()
	}
	c := *r
	c.Raw = raw
	return c.ID()
}

// Document is the BSON document stored for r: iam's field names, _id = id.
// A zero ExpireAt is left out rather than stored as the year 1, which the
// TTL index would delete at once; iam always sets it.
func Document(id string, r *analytics.Record) bson.Raw {
	n := 160 + len(id) + len(r.Username) + len(r.Effect) + len(r.Conclusion) +
		len(r.Request) + len(r.Policies) + len(r.Deciders)
	start, b := bsoncore.AppendDocumentStart(make([]byte, 0, n))
	b = bsoncore.AppendStringElement(b, "_id", id)
	b = bsoncore.AppendInt64Element(b, "timestamp", r.TimeStamp)
	b = bsoncore.AppendStringElement(b, "username", r.Username)
	b = bsoncore.AppendStringElement(b, "effect", r.Effect)
	b = bsoncore.AppendStringElement(b, "conclusion", r.Conclusion)
	b = bsoncore.AppendStringElement(b, "request", r.Request)
	b = bsoncore.AppendStringElement(b, "policies", r.Policies)
	b = bsoncore.AppendStringElement(b, "deciders", r.Deciders)
	if !r.ExpireAt.IsZero() {
		b = bsoncore.AppendTimeElement(b, "expireAt", r.ExpireAt)
	}
	b, _ = bsoncore.AppendDocumentEnd(b, start) // cannot fail: start is ours
	return bson.Raw(b)
}

// chunks splits docs so each insert carries at most
// max_insert_batch_size_bytes of documents (and at least one document).
func (m *Mongo) chunks(docs []doc) [][]doc {
	var out [][]doc
	size, from := 0, 0
	for i, d := range docs {
		if i > from && size+len(d.raw) > m.cfg.MaxInsertBatchSizeBytes {
			out = append(out, docs[from:i])
			from, size = i, 0
		}
		size += len(d.raw)
	}
	if from < len(docs) {
		out = append(out, docs[from:])
	}
	return out
}

// Per-document error codes that no retry can fix: the document itself is
// refused. Anything else is retried (re-inserting is safe: _id dedupes).
var rejectCodes = map[int]bool{
	2:     true, // BadValue
	14:    true, // TypeMismatch
	121:   true, // DocumentValidationFailure
	10003: true, // document larger than a capped collection
	10334: true, // BSONObjectTooLarge
}

// insert writes one chunk. It returns the documents the server refused for
// good, or an error for the whole chunk: plain when a retry may succeed,
// marked permanent when it cannot.
func (m *Mongo) insert(ctx context.Context, chunk []doc) ([]pumps.Rejection, error) {
	if len(chunk) == 0 {
		return nil, nil
	}
	vals := make([]any, len(chunk))
	for i, d := range chunk {
		vals[i] = d.raw
	}
	_, err := m.coll.InsertMany(ctx, vals, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		var rejected []pumps.Rejection
		retry := 0
		var first error
		for _, we := range bwe.WriteErrors {
			switch {
			case we.Code == codeDuplicateKey:
				// Written before: a re-delivery after a crash or retry.
			case rejectCodes[we.Code] && we.Index >= 0 && we.Index < len(chunk):
				rejected = append(rejected, pumps.Rejection{
					Index: chunk[we.Index].index,
					Err:   fmt.Errorf("mongo: server refused the document (code %d): %s", we.Code, m.scrub(errors.New(we.Message))),
				})
			default:
				retry++
				if first == nil {
					first = fmt.Errorf("code %d: %s", we.Code, we.Message)
				}
			}
		}
		if retry == 0 {
			return rejected, nil
		}
		return nil, m.errorf("insert %d documents: %d failed, first: %w", len(chunk), retry, first)
	}
	if hasCode(err, codeInvalidNamespace) {
		return nil, pumps.Permanent(m.errorf("insert %d documents: %w", len(chunk), err))
	}
	return nil, m.errorf("insert %d documents: %w", len(chunk), err)
}

// Close implements pumps.Sink: it waits for a write in flight, then
// disconnects. When ctx ends first it disconnects anyway (ending the write)
// and says so.
func (m *Mongo) Close(ctx context.Context) error {
	var waitErr error
	taken := 0
	for taken < cap(m.writing) && waitErr == nil {
		select {
		case m.writing <- struct{}{}:
			taken++
		case <-ctx.Done():
			waitErr = m.errorf("close: a write is still in flight: %w", ctx.Err())
		}
	}
	m.closed.Store(true)
	for range taken {
		<-m.writing
	}
	if m.client == nil {
		return waitErr
	}
	dctx := ctx
	if ctx.Err() != nil {
		// Still release the connections, briefly.
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
	}
	if err := m.client.Disconnect(dctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return errors.Join(waitErr, m.errorf("disconnect: %w", err))
	}
	return waitErr
}

// hasCode reports whether err carries one of the server error codes.
func hasCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// errorf is fmt.Errorf with the "mongo: " prefix and the URL's secrets
// scrubbed from the message.
func (m *Mongo) errorf(format string, args ...any) error {
	return m.secrets.Error(fmt.Errorf("mongo: "+format, args...))
}

// scrub returns err's message with the URL's secrets hidden.
func (m *Mongo) scrub(err error) string { return m.secrets.Error(err).Error() }

// WritesConcurrently implements pumps.Concurrent: a document's _id is its
// record's id and inserts are unordered, so batches may be written at once
// and in any order.
func (m *Mongo) WritesConcurrently() {}

var _ pumps.Concurrent = (*Mongo)(nil)

// hostsOf returns the host list of a MongoDB URL: what follows the scheme
// and user info, up to the path or query.
func hostsOf(s string) string {
	_, rest, _ := strings.Cut(s, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
