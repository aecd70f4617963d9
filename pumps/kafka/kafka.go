package kafka

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "kafka",
		Description: "produce each record as a JSON message to a Kafka topic (acks=all, idempotent)",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Kafka).meta },
	})
}

// DefaultTimeout bounds connecting to a broker and writing one batch when
// meta.timeout is not set.
const DefaultTimeout = 10 * time.Second

// Config is the kafka pump's meta section. The keys are iam-pump's, plus
// compression.
type Config struct {
	Broker                Brokers           `yaml:"broker" help:"brokers to bootstrap from, host:port each; a list, or one comma-separated string" required:"true"`
	Topic                 string            `yaml:"topic" help:"topic to produce to; it must exist unless the brokers auto-create topics" required:"true"`
	ClientID              string            `yaml:"client_id" help:"Kafka client id"`
	Timeout               pumps.Duration    `yaml:"timeout" help:"how long connecting to a broker, and writing one batch, may take; seconds (10) or a duration (1500ms)"`
	Compressed            bool              `yaml:"compressed" help:"iam-pump's switch: true compresses with snappy"`
	Compression           string            `yaml:"compression" help:"snappy, lz4, zstd, gzip or none; overrides compressed (a contradiction, e.g. compressed: true with compression: none, is an error)"`
	MetaData              map[string]string `yaml:"meta_data" help:"static string members added to every message, beside the record's fields (as iam-pump does: at the top level, not nested); a key equal to a record field is an error"`
	UseSSL                bool              `yaml:"use_ssl" help:"connect with TLS"`
	SSLInsecureSkipVerify bool              `yaml:"ssl_insecure_skip_verify" help:"accept any broker certificate"`
	SSLCertFile           string            `yaml:"ssl_cert_file" help:"client certificate and key (PEM) for mutual TLS; both or neither, with use_ssl"`
	SSLKeyFile            string            `yaml:"ssl_key_file" help:"client certificate and key (PEM) for mutual TLS; both or neither, with use_ssl"`
	SASLMechanism         string            `yaml:"sasl_mechanism" help:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; iam-pump's plain and scram (with sasl_algorithm) are accepted"`
	SASLUsername          string            `yaml:"sasl_username" help:"credentials, required with sasl_mechanism"`
	SASLPassword          string            `yaml:"sasl_password" help:"credentials, required with sasl_mechanism"`
	SASLAlgorithm         string            `yaml:"sasl_algorithm" help:"iam-pump's way to pick the SCRAM hash: sha-256 or sha-512"`
}

// Kafka produces every record of a batch as one message and returns from
// Write only when the brokers have acknowledged all of them. Several Writes
// may run at once (pumps.<name>.workers): their messages share the client's
// produce requests, up to five in flight per broker.
type Kafka struct {
	meta      Config
	codec     kgo.CompressionCodec
	mechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or ""
	extra     []byte // meta_data as JSON members: `,"k":"v",...`
	opts      []kgo.Opt
	values    sync.Pool // *[]byte: a Write's message values, kept once acknowledged

	mu     sync.Mutex // guards client, which a Write that gives up replaces
	client *kgo.Client
}

// New returns an unconfigured kafka sink.
func New() *Kafka {
	return &Kafka{meta: Config{ClientID: "iam-pump", Timeout: pumps.Duration(DefaultTimeout)}}
}

// recordFields are the JSON names of a message's own members, which
// meta_data must not overwrite.
var recordFields = map[string]bool{
	"timestamp": true, "username": true, "effect": true, "conclusion": true,
	"request": true, "policies": true, "deciders": true, "expireAt": true,
}

// Configure decodes and checks the meta. It does no I/O.
func (k *Kafka) Configure(meta pumps.Meta) error {
	m := k.meta
	if err := pumps.DecodeMeta(meta, &m); err != nil {
		return err
	}
	if len(m.Broker) == 0 {
		return errors.New("meta.broker: at least one broker is needed, e.g. [localhost:9092]")
	}
	for i, b := range m.Broker {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return fmt.Errorf("meta.broker[%d]: want host:port, got %q", i, b)
		}
	}
	if strings.TrimSpace(m.Topic) == "" {
		return errors.New("meta.topic: must not be empty")
	}
	if m.Timeout < 0 {
		return fmt.Errorf("meta.timeout: must not be negative, got %v", time.Duration(m.Timeout))
	}
	if m.Timeout == 0 {
		m.Timeout = pumps.Duration(DefaultTimeout)
	}
	codec, err := compression(m.Compression, m.Compressed)
	if err != nil {
		return err
	}
	mech, err := mechanism(m.SASLMechanism, m.SASLAlgorithm)
	if err != nil {
		return err
	}
	if mech != "" && (m.SASLUsername == "" || m.SASLPassword == "") {
		return fmt.Errorf("meta.sasl_username: sasl_mechanism %s needs sasl_username and sasl_password", mech)
	}
	if (m.SSLCertFile == "") != (m.SSLKeyFile == "") {
		return errors.New("meta.ssl_cert_file: set both ssl_cert_file and ssl_key_file for mutual TLS, or neither")
	}
	if m.SSLCertFile != "" && !m.UseSSL {
		return errors.New("meta.ssl_cert_file: a client certificate needs use_ssl: true")
	}
	extra, err := metaMembers(m.MetaData)
	if err != nil {
		return err
	}
	k.meta, k.codec, k.mechanism, k.extra = m, codec, mech, extra
	return nil
}

func compression(name string, compressed bool) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "":
		if compressed {
			return kgo.SnappyCompression(), nil
		}
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4", "zstd", "gzip", "none":
		if compressed {
			return kgo.CompressionCodec{}, fmt.Errorf("meta.compression: %q contradicts compressed: true (which means snappy); drop one of them", name)
		}
		switch strings.ToLower(name) {
		case "lz4":
			return kgo.Lz4Compression(), nil
		case "zstd":
			return kgo.ZstdCompression(), nil
		case "gzip":
			return kgo.GzipCompression(), nil
		}
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("meta.compression: want snappy, lz4, zstd, gzip or none, got %q", name)
}

// mechanism accepts the names Kafka uses and iam-pump's spelling
// ("scram" with sasl_algorithm sha-256 or sha-512).
func mechanism(name, algorithm string) (string, error) {
	alg := strings.ToLower(strings.ReplaceAll(algorithm, "_", "-"))
	switch alg {
	case "", "sha-256", "sha256", "sha-512", "sha512":
	default:
		return "", fmt.Errorf("meta.sasl_algorithm: want sha-256 or sha-512, got %q", algorithm)
	}
	switch strings.ToUpper(strings.ReplaceAll(name, "_", "-")) {
	case "":
		if alg != "" {
			return "", errors.New("meta.sasl_algorithm: only meaningful with sasl_mechanism: SCRAM")
		}
		return "", nil
	case "PLAIN":
		if alg != "" {
			return "", errors.New("meta.sasl_algorithm: only meaningful with sasl_mechanism: SCRAM")
		}
		return "PLAIN", nil
	case "SCRAM":
		if strings.Contains(alg, "512") {
			return "SCRAM-SHA-512", nil
		}
		return "SCRAM-SHA-256", nil
	case "SCRAM-SHA-256":
		if strings.Contains(alg, "512") {
			return "", errors.New("meta.sasl_algorithm: sha-512 contradicts sasl_mechanism: SCRAM-SHA-256")
		}
		return "SCRAM-SHA-256", nil
	case "SCRAM-SHA-512":
		if strings.Contains(alg, "256") {
			return "", errors.New("meta.sasl_algorithm: sha-256 contradicts sasl_mechanism: SCRAM-SHA-512")
		}
		return "SCRAM-SHA-512", nil
	}
	return "", fmt.Errorf("meta.sasl_mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", name)
}

// metaMembers renders meta_data as JSON object members, sorted by key, to be
// spliced into every message as iam-pump does (at the top level).
func metaMembers(md map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(md))
	for key := range md {
		if recordFields[key] {
			return nil, fmt.Errorf("meta.meta_data.%s: collides with the record field of that name", key)
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var out []byte
	for _, key := range keys {
		kb, _ := json.Marshal(key)
		vb, _ := json.Marshal(md[key])
		out = append(out, ',')
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, vb...)
	}
	return out, nil
}

// Init creates the producer and checks that a broker answers.
func (k *Kafka) Init(ctx context.Context) error {
	timeout := time.Duration(k.meta.Timeout)
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.meta.Broker...),
		kgo.ClientID(k.meta.ClientID),
		kgo.DefaultProduceTopic(k.meta.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes need (and default to) acks=all
		kgo.ProducerBatchCompression(k.codec),
		kgo.DialTimeout(timeout),
		kgo.ProduceRequestTimeout(timeout),
		// Write waits for its messages' acknowledgements, so a message
		// lingering for more to join its request only delays the batch;
		// the messages that arrive while a request is in flight make the
		// next one.
		kgo.ProducerLinger(0),
		// A missing topic is retried until the write's deadline, so
		// creating it (or auto-creation) heals the pump without losses.
		kgo.UnknownTopicRetries(-1),
	}
	if k.meta.UseSSL {
		tc := &tls.Config{InsecureSkipVerify: k.meta.SSLInsecureSkipVerify} //nolint:gosec // the operator's choice, off by default
		if k.meta.SSLCertFile != "" {
			cert, err := tls.LoadX509KeyPair(k.meta.SSLCertFile, k.meta.SSLKeyFile)
			if err != nil {
				return pumps.Permanent(fmt.Errorf("kafka: load client certificate: %w", err))
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := k.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return pumps.Permanent(fmt.Errorf("kafka: create client: %w", err))
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Ping(pctx); err != nil {
		client.Close()
		return fmt.Errorf("kafka: reach brokers %s: %w", strings.Join(k.meta.Broker, ","), err)
	}
	k.client, k.opts = client, opts
	return nil
}

func (k *Kafka) saslMechanism() sasl.Mechanism {
	user, pass := k.meta.SASLUsername, k.meta.SASLPassword
	switch k.mechanism {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	return nil
}

// Write produces one message per record and waits until Kafka has them
// all. A record Kafka can never take (too large) is rejected alone; any
// other failure fails the batch as transient, and the retry may produce
// the records that did arrive once more (each carries a record-id header
// for consumers that deduplicate).
//
// An idempotent producer cannot give up on a record that went out in a
// request still unanswered (a broker that vanished mid-request), so when
// ctx ends first Write drops the whole client, failing whatever it still
// buffers (the concurrent Writes' messages too: they fail and are retried),
// and starts a fresh one: nothing of an abandoned batch lingers to be
// written later behind the loop's back.
func (k *Kafka) Write(ctx context.Context, batch []analytics.Record) error {
	if len(batch) == 0 {
		return nil
	}
	client, err := k.currentClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(k.meta.Timeout))
	defer cancel()
	values := k.valueBuffer()
	buf := (*values)[:0]
	var rejected []pumps.Rejection
	ends := make([]int, len(batch))
	for i := range batch {
		var err error
		if buf, err = k.appendMessage(buf, &batch[i]); err != nil {
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("kafka: encode record: %w", err)})
			ends[i] = -1
			continue
		}
		ends[i] = len(buf)
	}
	type result struct {
		index int
		err   error
	}
	results := make(chan result, len(batch)) // so promises never block
	start, produced := 0, 0
	for i := range batch {
		if ends[i] < 0 {
			continue
		}
		produced++
		rec := &kgo.Record{
			Key:     []byte(batch[i].Username),
			Value:   buf[start:ends[i]:ends[i]],
			Headers: []kgo.RecordHeader{{Key: "record-id", Value: []byte(batch[i].ID())}},
		}
		start = ends[i]
		client.Produce(ctx, rec, func(_ *kgo.Record, err error) { results <- result{i, err} })
	}
	var transient error
	failed := 0
	for range produced {
		var res result
		select {
		case res = <-results:
		case <-ctx.Done():
			// The client may still hold the values: buf is not reused.
			k.drop(client)
			return fmt.Errorf("kafka: produce to %s: gave up waiting for acknowledgements: %w", k.meta.Topic, ctx.Err())
		}
		if res.err == nil {
			continue
		}
		failed++
		if tooLarge(res.err) {
			rejected = append(rejected, pumps.Rejection{Index: res.index, Err: fmt.Errorf("kafka: %w", res.err)})
		} else if transient == nil {
			transient = res.err
		}
	}
	// Every promise has run: the client is done with the values.
	k.keepValueBuffer(values, buf)
	switch {
	case transient != nil:
		return fmt.Errorf("kafka: produce to %s: %d of %d records failed: %w", k.meta.Topic, failed, produced, transient)
	case len(rejected) > 0:
		sort.Slice(rejected, func(i, j int) bool { return rejected[i].Index < rejected[j].Index })
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// valueBuffer returns a buffer for a Write's message values, one an earlier
// Write kept when it can.
func (k *Kafka) valueBuffer() *[]byte {
	if b, ok := k.values.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// keepValueBuffer keeps buf for a later Write unless it grew past
// pumps.MaxKeptBuffer.
func (k *Kafka) keepValueBuffer(values *[]byte, buf []byte) {
	if cap(buf) <= pumps.MaxKeptBuffer {
		*values = buf[:0]
		k.values.Put(values)
	}
}

// drop closes client after an abandoned batch, unless a concurrent Write
// already replaced it; the next Write makes a new one. Closing fails every
// record the old one still holds (their promises write into buffered
// channels nobody reads any more); it runs in the background because it
// may wait for a dead broker's connection, and Write must return when its
// ctx ends.
func (k *Kafka) drop(client *kgo.Client) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client == client {
		k.client = nil
	}
	go client.Close()
}

// currentClient returns the client, created again after a drop.
func (k *Kafka) currentClient() (*kgo.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil {
		return k.client, nil
	}
	if k.opts == nil {
		return nil, errors.New("kafka: Write before Init")
	}
	client, err := kgo.NewClient(k.opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: create client: %w", err)
	}
	k.client = client
	return client, nil
}

// tooLarge reports errors that retrying the same record cannot fix.
func tooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord)
}

// appendMessage appends the message value of r: the record with iam's JSON
// names, and the meta_data members beside them.
func (k *Kafka) appendMessage(dst []byte, r *analytics.Record) ([]byte, error) {
	out, err := analytics.AppendJSON(dst, r)
	if err != nil || len(k.extra) == 0 {
		return out, err
	}
	out = append(out[:len(out)-1], k.extra...) // before the closing brace
	return append(out, '}'), nil
}

// Close waits for anything still buffered and closes the connections.
func (k *Kafka) Close(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client == nil {
		k.opts = nil
		return nil
	}
	err := k.client.Flush(ctx)
	k.client.Close()
	k.client, k.opts = nil, nil
	if err != nil {
		return fmt.Errorf("kafka: flush: %w", err)
	}
	return nil
}

// Brokers is a list of host:port addresses. A single string with commas is
// accepted too ("a:9092,b:9092").
type Brokers []string

// JSONSchema says how the brokers are written: a list or one
// comma-separated string.
func (Brokers) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	}}
}

// UnmarshalYAML accepts a list or a comma-separated string.
func (b *Brokers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*b = nil
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*b = append(*b, s)
			}
		}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return errors.New("want a list of host:port addresses")
	}
	*b = list
	return nil
}

// WritesConcurrently marks the sink as pumps.Concurrent: a Write's
// messages wait only for their own acknowledgements, so several batches
// share the producer's requests. Batches land in any order, and a retried
// one may be produced twice (the record-id header tells the copies apart),
// as with one worker.
func (k *Kafka) WritesConcurrently() {}

// WritesRecordJSON marks the sink as a pumps.JSONWriter: it writes each
// record as analytics.AppendJSON encodes it.
func (k *Kafka) WritesRecordJSON() {}

var (
	_ pumps.Sink       = (*Kafka)(nil)
	_ pumps.JSONWriter = (*Kafka)(nil)
	_ pumps.Concurrent = (*Kafka)(nil)
)
