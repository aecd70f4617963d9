package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

const topic = "iam-analytics"

// startKafka runs an in-process Kafka-protocol server with one broker and
// a one-partition topic, closed when the test ends.
func startKafka(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func brokerList(c *kfake.Cluster) []any {
	var out []any
	for _, a := range c.ListenAddrs() {
		out = append(out, a)
	}
	return out
}

// newSink configures and initialises a sink, closed when the test ends.
func newSink(t testing.TB, meta pumps.Meta) *Kafka {
	return testutil.StartSink(t, New(), meta)
}

// consume reads n messages of topic from the start, failing the test when
// they do not arrive in time.
func consume(t testing.TB, addrs []string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d messages before the deadline", len(got), n)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		got = append(got, fetches.Records()...)
	}
	return got
}

// endOffset is the number of messages the topic's single partition holds.
func endOffset(t testing.TB, addrs []string, opts ...kgo.Opt) int64 {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = -1 // the end
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("list offsets: error code %d", p.ErrorCode)
	}
	return p.Offset
}

func TestConfigureRejectsBadMetaNamingTheKey(t *testing.T) {
	good := func() pumps.Meta {
		return pumps.Meta{"broker": []any{"localhost:9092"}, "topic": "t"}
	}
	tests := []struct {
		name string
		edit func(m pumps.Meta)
		want string
	}{
		{"no broker", func(m pumps.Meta) { delete(m, "broker") }, "meta.broker: at least one broker"},
		{"broker without port", func(m pumps.Meta) { m["broker"] = []any{"localhost"} }, "meta.broker[0]: want host:port"},
		{"broker of the wrong type", func(m pumps.Meta) { m["broker"] = map[string]any{"a": 1} }, "meta.broker: want a list"},
		{"no topic", func(m pumps.Meta) { delete(m, "topic") }, "meta.topic: must not be empty"},
		{"negative timeout", func(m pumps.Meta) { m["timeout"] = -1 }, "meta.timeout: must not be negative"},
		{"timeout not a duration", func(m pumps.Meta) { m["timeout"] = "soon" }, "meta.timeout: want a duration"},
		{"unknown compression", func(m pumps.Meta) { m["compression"] = "brotli" }, "meta.compression: want snappy, lz4, zstd, gzip or none"},
		{"compression contradicting compressed", func(m pumps.Meta) { m["compressed"] = true; m["compression"] = "none" }, "meta.compression: \"none\" contradicts compressed"},
		{"compressed not a bool", func(m pumps.Meta) { m["compressed"] = "yes please" }, "meta.compressed: want true or false"},
		{"unknown sasl mechanism", func(m pumps.Meta) { m["sasl_mechanism"] = "GSSAPI" }, "meta.sasl_mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{"sasl without credentials", func(m pumps.Meta) { m["sasl_mechanism"] = "PLAIN" }, "meta.sasl_username: sasl_mechanism PLAIN needs"},
		{"sasl_algorithm without scram", func(m pumps.Meta) { m["sasl_algorithm"] = "sha-512" }, "meta.sasl_algorithm: only meaningful"},
		{"unknown sasl_algorithm", func(m pumps.Meta) { m["sasl_algorithm"] = "md5" }, "meta.sasl_algorithm: want sha-256 or sha-512"},
		{"scram algorithm contradiction", func(m pumps.Meta) {
			m["sasl_mechanism"] = "SCRAM-SHA-256"
			m["sasl_algorithm"] = "sha-512"
		}, "meta.sasl_algorithm: sha-512 contradicts"},
		{"cert without key", func(m pumps.Meta) { m["use_ssl"] = true; m["ssl_cert_file"] = "c.pem" }, "meta.ssl_cert_file: set both"},
		{"cert without ssl", func(m pumps.Meta) { m["ssl_cert_file"] = "c.pem"; m["ssl_key_file"] = "k.pem" }, "meta.ssl_cert_file: a client certificate needs use_ssl"},
		{"meta_data hiding a record field", func(m pumps.Meta) { m["meta_data"] = map[string]any{"username": "x"} }, "meta.meta_data.username: collides"},
		{"typo in a key", func(m pumps.Meta) { m["brokers"] = []any{"localhost:9092"} }, `meta.brokers: unknown key (did you mean "broker"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.edit(m)
			err := New().Configure(m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Configure = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigureAcceptsIAMPumpSpellings(t *testing.T) {
	tests := []struct {
		name      string
		meta      pumps.Meta
		mechanism string
		timeout   time.Duration
	}{
		{"seconds as a number", pumps.Meta{"timeout": 5}, "", 5 * time.Second},
		{"a duration string", pumps.Meta{"timeout": "1500ms"}, "", 1500 * time.Millisecond},
		{"no timeout takes the default", pumps.Meta{}, "", DefaultTimeout},
		{"iam's lower-case plain", pumps.Meta{"sasl_mechanism": "plain", "sasl_username": "u", "sasl_password": "p"}, "PLAIN", DefaultTimeout},
		{"iam's scram with sha-512", pumps.Meta{"sasl_mechanism": "scram", "sasl_algorithm": "sha-512", "sasl_username": "u", "sasl_password": "p"}, "SCRAM-SHA-512", DefaultTimeout},
		{"iam's scram defaults to sha-256", pumps.Meta{"sasl_mechanism": "SCRAM", "sasl_username": "u", "sasl_password": "p"}, "SCRAM-SHA-256", DefaultTimeout},
		{"kafka's own name", pumps.Meta{"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u", "sasl_password": "p"}, "SCRAM-SHA-512", DefaultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.meta["broker"] = "a:9092, b:9092"
			tt.meta["topic"] = "t"
			k := New()
			if err := k.Configure(tt.meta); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			if got := []string(k.meta.Broker); len(got) != 2 || got[0] != "a:9092" || got[1] != "b:9092" {
				t.Errorf("broker = %q, want [a:9092 b:9092]", got)
			}
			if k.mechanism != tt.mechanism {
				t.Errorf("mechanism = %q, want %q", k.mechanism, tt.mechanism)
			}
			if got := time.Duration(k.meta.Timeout); got != tt.timeout {
				t.Errorf("timeout = %v, want %v", got, tt.timeout)
			}
		})
	}
}

func TestConfigureErrorsNeverShowThePassword(t *testing.T) {
	const secret = "hunter2-secret"
	metas := []pumps.Meta{
		{"broker": []any{"a:1"}, "topic": "t", "sasl_mechanism": "KERBEROS", "sasl_username": "u", "sasl_password": secret},
		{"broker": []any{"a:1"}, "topic": "t", "sasl_mechanism": "PLAIN", "sasl_password": secret},
		{"broker": []any{"a:1"}, "topic": "t", "sasl_password": secret, "sasl_pasword": secret},
	}
	for i, m := range metas {
		err := New().Configure(m)
		if err == nil {
			t.Fatalf("case %d: Configure accepted bad meta", i)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("case %d: error shows the password: %v", i, err)
		}
	}
}

// The sample's content is checked for every sink in pumps/all; here, that
// the sink registers this package's own sample.yaml.
func TestRegisteredWithItsSample(t *testing.T) {
	if info, ok := pumps.Lookup("kafka"); !ok || info.Sample != sample {
		t.Fatal("kafka is not registered with its sample")
	}
}

func TestWriteGoldenRecordsArriveFieldByField(t *testing.T) {
	c := startKafka(t)
	k := newSink(t, pumps.Meta{
		"broker": brokerList(c), "topic": topic, "compressed": true,
		"meta_data": map[string]any{"source": "iam", "dc": "eu-1"},
	})
	decoded, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	if err := k.Write(context.Background(), decoded); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := consume(t, c.ListenAddrs(), len(want))
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	var recs []analytics.Record
	for i, msg := range got {
		w := want[i]
		var m map[string]any
		if err := json.Unmarshal(msg.Value, &m); err != nil {
			t.Fatalf("message %d is not JSON: %v\n%s", i, err, msg.Value)
		}
		var rec analytics.Record
		if err := json.Unmarshal(msg.Value, &rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		// The record's own fields: sinktest.CheckRecords, below.
		checks := []struct {
			field     string
			got, want any
		}{
			{"meta_data source", m["source"], "iam"},
			{"meta_data dc", m["dc"], "eu-1"},
			{"key", string(msg.Key), w.Username},
			{"record-id header", header(msg, "record-id"), decoded[i].ID()},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("message %d %s = %v, want %v", i, c.field, c.got, c.want)
			}
		}
		if len(m) != 10 {
			t.Errorf("message %d has %d members, want the 8 record fields and 2 of meta_data: %s", i, len(m), msg.Value)
		}
	}
	sinktest.CheckRecords(t, recs, want)
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestWriteProducesIdempotentlyWithAcksAll(t *testing.T) {
	c := startKafka(t)
	type seen struct {
		acks       int16
		producerID int64
	}
	produced := make(chan seen, 16)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		s := seen{acks: pr.Acks, producerID: -1}
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(p.Records); err == nil {
					s.producerID = batch.ProducerID
				}
			}
		}
		select {
		case produced <- s:
		default:
		}
		return nil, nil, false
	})
	k := newSink(t, pumps.Meta{"broker": brokerList(c), "topic": topic})
	if err := k.Write(context.Background(), testutil.Records(t, 0, 10)); err != nil {
		t.Fatal(err)
	}
	s := <-produced
	if s.acks != -1 {
		t.Errorf("produce request acks = %d, want -1 (all)", s.acks)
	}
	if s.producerID < 0 {
		t.Errorf("record batch producer id = %d, want an idempotent producer's id", s.producerID)
	}
}

func TestWriteCompressesWithTheChosenCodec(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want kgo.CompressionCodecType
	}{
		{"iam compressed means snappy", pumps.Meta{"compressed": true}, kgo.CodecSnappy},
		{"iam default is uncompressed", pumps.Meta{"compressed": false}, kgo.CodecNone},
		{"snappy", pumps.Meta{"compression": "snappy"}, kgo.CodecSnappy},
		{"lz4", pumps.Meta{"compression": "lz4"}, kgo.CodecLz4},
		{"zstd", pumps.Meta{"compression": "zstd"}, kgo.CodecZstd},
		{"gzip", pumps.Meta{"compression": "gzip"}, kgo.CodecGzip},
		{"none", pumps.Meta{"compression": "none"}, kgo.CodecNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startKafka(t)
			tt.meta["broker"] = brokerList(c)
			tt.meta["topic"] = topic
			k := newSink(t, tt.meta)
			batch := testutil.Records(t, 0, 200)
			if err := k.Write(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			got := consume(t, c.ListenAddrs(), len(batch))
			seen := map[string]bool{}
			for _, msg := range got {
				if ct := kgo.CompressionCodecType(msg.Attrs.CompressionType()); ct != tt.want {
					t.Fatalf("message compressed with %v, want %v", ct, tt.want)
				}
				var rec analytics.Record
				if err := json.Unmarshal(msg.Value, &rec); err != nil {
					t.Fatal(err)
				}
				seen[testutil.IDOf(rec)] = true
			}
			if len(seen) != len(batch) {
				t.Errorf("%d distinct records arrived, want %d", len(seen), len(batch))
			}
		})
	}
}

func TestWriteAuthenticatesWithSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := startKafka(t, kfake.EnableSASL(), kfake.Superuser(mech, "pump", "s3cret-pass"))
			k := newSink(t, pumps.Meta{
				"broker": brokerList(c), "topic": topic,
				"sasl_mechanism": mech, "sasl_username": "pump", "sasl_password": "s3cret-pass",
			})
			if err := k.Write(context.Background(), testutil.Records(t, 0, 5)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			consume(t, c.ListenAddrs(), 5, kgo.SASL(k.saslMechanism()))
		})
	}
}

func TestInitWithAWrongPasswordFailsWithoutShowingIt(t *testing.T) {
	c := startKafka(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "pump", "right"))
	k := New()
	err := k.Configure(pumps.Meta{
		"broker": brokerList(c), "topic": topic, "timeout": "3s",
		"sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "pump", "sasl_password": "wrong-password-xyz",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = k.Init(ctx)
	if err == nil {
		_ = k.Close(ctx)
		t.Fatal("Init with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Errorf("error shows the password: %v", err)
	}
	if pumps.IsPermanent(err) {
		t.Errorf("a refused login is an outage to fix, not bad data; got permanent: %v", err)
	}
}

func TestWriteFailsTransientlyWhenTheBrokerIsDown(t *testing.T) {
	c := startKafka(t)
	k := newSink(t, pumps.Meta{"broker": brokerList(c), "topic": topic})
	if err := k.Write(context.Background(), testutil.Records(t, 0, 3)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := k.Write(ctx, testutil.Records(t, 3, 6))
	if err == nil {
		t.Fatal("Write to a closed cluster succeeded")
	}
	if pumps.IsPermanent(err) {
		t.Errorf("broker down is transient, got permanent: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second { // wide slack for a loaded machine
		t.Errorf("Write took %v, want it bounded by the 2s context", took)
	} else {
		t.Logf("Write gave up after %v", took)
	}
}

func TestInitFailsTransientlyOnADeadPort(t *testing.T) {
	k := New()
	dead := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	if err := k.Configure(pumps.Meta{"broker": []any{dead}, "topic": topic}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := k.Init(ctx)
	if err == nil {
		t.Fatal("Init against a dead port succeeded")
	}
	if pumps.IsPermanent(err) {
		t.Errorf("a dead broker is transient, got permanent: %v", err)
	}
	if !strings.Contains(err.Error(), dead) {
		t.Errorf("error does not say which brokers: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second { // wide slack for a loaded machine
		t.Errorf("Init took %v, want it bounded by the 2s context", took)
	}
}

func TestWriteRejectsOnlyTheRecordKafkaCannotTake(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(*analytics.Record)
		want  string
	}{
		{"over the 1 MB batch limit", func(r *analytics.Record) { r.Request = strings.Repeat("x", 2<<20) }, "kafka: "},
		{"expireAt past year 9999", func(r *analytics.Record) { r.ExpireAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "encode record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startKafka(t)
			k := newSink(t, pumps.Meta{"broker": brokerList(c), "topic": topic, "compression": "none"})
			batch := testutil.Records(t, 0, 5)
			tt.spoil(&batch[2])
			err := k.Write(context.Background(), batch)
			var rej *pumps.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("Write = %v, want a RejectedError", err)
			}
			if len(rej.Rejections) != 1 || rej.Rejections[0].Index != 2 || !strings.Contains(rej.Rejections[0].Err.Error(), tt.want) {
				t.Fatalf("rejections = %+v, want only index 2, saying %q", rej.Rejections, tt.want)
			}
			got := consume(t, c.ListenAddrs(), 4)
			for _, msg := range got {
				var rec analytics.Record
				if err := json.Unmarshal(msg.Value, &rec); err != nil {
					t.Fatal(err)
				}
				if testutil.IDOf(rec) == testutil.RecordID(2) {
					t.Error("the rejected record reached Kafka")
				}
			}
			if n := endOffset(t, c.ListenAddrs()); n != 4 {
				t.Errorf("topic holds %d messages, want 4", n)
			}
		})
	}
}

func TestCloseIsSafeTwiceAndWithoutInit(t *testing.T) {
	if err := New().Close(context.Background()); err != nil {
		t.Fatalf("Close before Init: %v", err)
	}
	c := startKafka(t)
	k := newSink(t, pumps.Meta{"broker": brokerList(c), "topic": topic})
	if err := k.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := k.Write(context.Background(), testutil.Records(t, 0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func BenchmarkWrite(b *testing.B) {
	c := startKafka(b)
	k := newSink(b, pumps.Meta{"broker": brokerList(c), "topic": topic, "compressed": true})
	testutil.BenchmarkWrites(b, k, testutil.Records(b, 0, 1000))
}

func TestWriteRecoversWhenTheBrokerReturns(t *testing.T) {
	port := testutil.FreePort(t)
	first := startKafka(t, kfake.Ports(port))
	k := newSink(t, pumps.Meta{"broker": brokerList(first), "topic": topic, "timeout": "1s"})
	first.Close()
	if err := k.Write(context.Background(), testutil.Records(t, 0, 3)); err == nil {
		t.Fatal("Write with the broker down succeeded")
	}
	second := startKafka(t, kfake.Ports(port))
	testutil.Eventually(t, 20*time.Second, "a write to the restarted broker", func() bool {
		return k.Write(context.Background(), testutil.Records(t, 3, 6)) == nil
	})
	got := consume(t, second.ListenAddrs(), 3)
	for i, msg := range got {
		var rec analytics.Record
		if err := json.Unmarshal(msg.Value, &rec); err != nil {
			t.Fatal(err)
		}
		if id := testutil.IDOf(rec); id != testutil.RecordID(3+i) {
			t.Errorf("message %d is %s, want %s", i, id, testutil.RecordID(3+i))
		}
	}
}
