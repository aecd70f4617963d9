package pump

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

const testStream = "analytics-stream"

// startStreamLoop runs a loop over testStream as consumer name, into sink,
// until the test ends or stop is called.
func startStreamLoop(t *testing.T, r *testutil.Redis, name string, sink pumps.Sink, tune func(*Settings)) (stop func()) {
	t.Helper()
	cfg := config.Default()
	set := SettingsOf(cfg, 10*time.Second)
	set.Interval = 20 * time.Millisecond
	if tune != nil {
		tune(&set)
	}
	out := &Output{Name: "rec", Sink: sink, Config: config.PumpDefaults()}
	p := New(Options{Settings: set, Queue: storage.NewQueue(r.Client(), testStream, name, 5*time.Second),
		Stream:  storage.NewStream(r.Client(), testStream, storage.StreamOptions{Consumer: name}),
		Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run = %v", name, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func addRecords(t *testing.T, c *redis.Client, from, to int) {
	t.Helper()
	pipe := c.Pipeline()
	for i := from; i < to; i++ {
		pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: testStream, Values: []any{"data", testutil.EncodedRecord(t, i)}})
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (s *batchRecorder) seen() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, id := range s.ids {
		m[id]++
	}
	return m
}

// waitSettled waits until the group has nothing pending and the stream is
// empty: every entry acknowledged and trimmed.
func waitSettled(t *testing.T, r *testutil.Redis) {
	t.Helper()
	s := storage.NewStream(r.Client(), testStream, storage.StreamOptions{})
	testutil.Eventually(t, time.Minute, "the stream acknowledged and emptied", func() bool {
		pending, err1 := s.Pending(context.Background())
		n, err2 := s.Len(context.Background())
		return err1 == nil && err2 == nil && pending == 0 && n == 0
	})
}

// gatedRecorder holds its first write until release is closed, and says
// on entered when it got there.
type gatedRecorder struct {
	batchRecorder
	entered, release chan struct{}
	once             sync.Once
}

func (g *gatedRecorder) Write(ctx context.Context, batch []analytics.Record) error {
	first := false
	g.once.Do(func() { first = true; close(g.entered) })
	if first {
		<-g.release
	}
	return g.batchRecorder.Write(ctx, batch)
}

// Three consumers of one group share a stream: every record is written
// once, by one of them, each does a part, and the stream ends empty. Each
// consumer's first write is held until the next consumer started, so each
// has entries of its own whatever the machine's timing.
func TestConsumersOfOneGroupShareTheStream(t *testing.T) {
	r := testutil.StartRedis(t)
	const n = 3000
	release := make(chan struct{})
	var sinks []*gatedRecorder
	for i := range 3 {
		s := &gatedRecorder{entered: make(chan struct{}), release: release}
		sinks = append(sinks, s)
		startStreamLoop(t, r, fmt.Sprintf("pump-%d", i), s, func(set *Settings) {
			// One batch of 100 in flight: a held consumer leaves the rest to the others.
			set.ClaimIdle, set.ReadAhead, set.BatchSize = time.Hour, 1, 100
		})
		addRecords(t, r.Client(), i*1000, i*1000+1000)
		select {
		case <-s.entered:
		case <-time.After(time.Minute):
			t.Fatalf("consumer %d got no entry within a minute", i)
		}
	}
	close(release)
	testutil.Eventually(t, 2*time.Minute, "every record written", func() bool {
		total := 0
		for _, s := range sinks {
			total += len(s.batchRecorder.seen())
		}
		return total >= n
	})
	waitSettled(t, r)
	all := map[string]int{}
	for i, s := range sinks {
		seen := s.batchRecorder.seen()
		if len(seen) == 0 {
			t.Errorf("consumer %d wrote nothing: the group did not share the load", i)
		}
		for id, k := range seen {
			all[id] += k
		}
	}
	for i := range n {
		if k := all[testutil.RecordID(i)]; k != 1 {
			t.Fatalf("record %d written %d times, want once", i, k)
		}
	}
}

// A consumer that stopped with entries pending (a crash) leaves them to
// the others: a live one claims them once idle past claim-idle.
func TestAStoppedConsumersEntriesAreClaimed(t *testing.T) {
	r := testutil.StartRedis(t)
	crashed := storage.NewStream(r.Client(), testStream, storage.StreamOptions{Consumer: "crashed"})
	if err := crashed.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	addRecords(t, r.Client(), 0, 50)
	if got, err := crashed.Read(context.Background(), 50, 0); err != nil || len(got) != 50 {
		t.Fatalf("the crashed consumer read %d entries (%v), want 50", len(got), err)
	}
	addRecords(t, r.Client(), 50, 100)
	sink := &batchRecorder{}
	startStreamLoop(t, r, "live", sink, func(s *Settings) { s.ClaimIdle = 300 * time.Millisecond })
	waitSettled(t, r)
	seen := sink.seen()
	for i := range 100 {
		if seen[testutil.RecordID(i)] != 1 {
			t.Fatalf("record %d written %d times, want once", i, seen[testutil.RecordID(i)])
		}
	}
}

// An entry delivered more than max-deliveries times, and one without the
// data field, go to the dead list with their bytes and the reason; the
// rest is written.
func TestPoisonEntriesAreDeadLettered(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	c := r.Client()
	s := storage.NewStream(c, testStream, storage.StreamOptions{Consumer: "a"})
	if err := s.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	addRecords(t, c, 0, 1)
	// Delivered 3 times: read, then claimed twice by consumers that each
	// died before acknowledging it.
	if _, err := s.Read(ctx, 1, 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		got, err := storage.NewStream(c, testStream, storage.StreamOptions{Consumer: name}).Claim(ctx, 0, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim by %s: %d entries, %v", name, len(got), err)
		}
	}
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: testStream, Values: []any{"payload", "\x00not-here", "other", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	addRecords(t, c, 1, 10)
	sink := &batchRecorder{}
	startStreamLoop(t, r, "live", sink, func(s *Settings) { s.ClaimIdle = 200 * time.Millisecond; s.MaxDeliveries = 3 })
	waitSettled(t, r)
	seen := sink.seen()
	if seen[testutil.RecordID(0)] != 0 || len(seen) != 9 {
		t.Fatalf("written %v: want records 1-9, and record 0 (delivered 4 times) dead", seen)
	}
	letters, err := c.LRange(ctx, s.DeadKey(), 0, -1).Result()
	if err != nil || len(letters) != 2 {
		t.Fatalf("dead list: %d letters (%v), want 2", len(letters), err)
	}
	var over, fieldless DeadLetter
	for _, l := range letters {
		d, err := DecodeDeadLetter([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(d.Reason, "max-deliveries") {
			over = d
		} else {
			fieldless = d
		}
	}
	if over.Deliveries != 4 || string(over.Raw) != string(testutil.EncodedRecord(t, 0)) || over.ID == "" || over.Key != testStream {
		t.Errorf("over-delivered letter %+v: want 4 deliveries, the record's bytes, its id and key", over)
	}
	fields, err := storage.DecodeFields(fieldless.Raw)
	if err != nil || len(fields) != 4 || string(fields[1]) != "\x00not-here" || !strings.Contains(fieldless.Reason, `"data"`) {
		t.Errorf("letter of the entry without data: reason %q, fields %q (%v)", fieldless.Reason, fields, err)
	}
}
