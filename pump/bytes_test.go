package pump

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

// batchRecorder is a sink that keeps the raw sizes of every batch it gets.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]int
	ids     []string
}

func (*batchRecorder) Configure(pumps.Meta) error  { return nil }
func (*batchRecorder) Init(context.Context) error  { return nil }
func (*batchRecorder) Close(context.Context) error { return nil }

func (s *batchRecorder) Write(_ context.Context, batch []analytics.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sizes := make([]int, len(batch))
	for i := range batch {
		sizes[i] = len(batch[i].Raw)
		s.ids = append(s.ids, testutil.IDOf(batch[i]))
	}
	s.batches = append(s.batches, sizes)
	return nil
}

// bigRecord is testutil.MakeRecord(i) with a request of about size bytes.
func bigRecord(t *testing.T, i, size int) []byte {
	t.Helper()
	r := testutil.MakeRecord(i)
	r.Request = `{"blob":"` + strings.Repeat("x", size) + `"}`
	b, err := analytics.Encode(&r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With the default settings, batches of large records stay within
// batch-max-bytes (a batch may pass it by one record at most) and a record
// bigger than the budget is delivered alone; every record arrives, in order.
func TestBatchesStayWithinTheByteBudget(t *testing.T) {
	r := testutil.StartRedis(t)
	cfg := config.Default()
	budget := int(cfg.BatchMaxBytes)
	const n, huge = 40, 17
	ctx := context.Background()
	for i := range n {
		size := 700 << 10
		if i == huge {
			size = 24 << 20
		}
		if err := r.Client().RPush(ctx, analytics.DefaultKey, bigRecord(t, i, size)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sink := &batchRecorder{}
	p, lease := leasedLoop(t, r, cfg, sink)
	if err := p.drainList(ctx, ctx, lease); err != nil {
		t.Fatal(err)
	}

	checkBudget(t, sink.batches, budget)
	hugeAlone := false
	for i, b := range sink.batches {
		for _, size := range b {
			if size > 24<<20 {
				hugeAlone = len(b) == 1
				if !hugeAlone {
					t.Errorf("batch %d holds the 24 MiB record among %d records", i, len(b))
				}
			}
		}
	}
	if !hugeAlone {
		t.Errorf("the 24 MiB record was not delivered alone: batches %v", sink.batches)
	}
	if len(sink.ids) != n {
		t.Fatalf("%d records delivered, want %d", len(sink.ids), n)
	}
	for i, id := range sink.ids {
		if id != testutil.RecordID(i) {
			t.Fatalf("record %d is %s, want %s: out of order or doubled", i, id, testutil.RecordID(i))
		}
	}
	if left, _ := r.Client().LLen(ctx, analytics.DefaultKey).Result(); left != 0 {
		t.Errorf("%d records left in the list", left)
	}
}

// leasedLoop is a loop of cfg over the default list of r, writing into one
// pump "rec" of sink, with the list's lease held for the test.
func leasedLoop(t *testing.T, r *testutil.Redis, cfg config.Config, sink pumps.Sink) (*Loop, *leaseKeeper) {
	t.Helper()
	cfg.Pumps = map[string]config.Pump{"rec": config.PumpDefaults()}
	out := &Output{Name: "rec", Sink: sink, Config: cfg.Pumps["rec"]}
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "bytes-test", 10*time.Second)
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	if ok, err := q.Acquire(context.Background()); !ok || err != nil {
		t.Fatal("no lease", err)
	}
	lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
	t.Cleanup(lease.stop)
	return p, lease
}

// checkBudget fails when a batch passes budget by more than its last record.
func checkBudget(t *testing.T, batches [][]int, budget int) {
	t.Helper()
	for i, b := range batches {
		total := 0
		for _, size := range b {
			total += size
		}
		if total-b[len(b)-1] > budget {
			t.Errorf("batch %d: %d records of %d bytes, more than one record over the budget of %d", i, len(b), total, budget)
		}
	}
}

// pump dlq replay --pump reads the dead list within batch-max-bytes too:
// it read batch-size letters at a time, whatever their size.
func TestDeadLetterReplayStaysWithinTheByteBudget(t *testing.T) {
	r := testutil.StartRedis(t)
	cfg := config.Default()
	cfg.BatchMaxBytes = 4 << 20
	const n = 30
	ctx := context.Background()
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "bytes-test", 10*time.Second)
	for i := range n {
		letter := DeadLetter{Reason: "refused", Pump: "rec", Key: q.Key(), Raw: bigRecord(t, i, 700<<10)}
		if err := r.Client().RPush(ctx, q.DeadKey(), letter.Encode()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sink := &batchRecorder{}
	cfg.Pumps = map[string]config.Pump{"rec": config.PumpDefaults()}
	out := &Output{Name: "rec", Sink: sink, Config: cfg.Pumps["rec"]}
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	rep, err := p.ReplayDead(ctx, DeadReplay{Pump: "rec"})
	if err != nil {
		t.Fatal(err)
	}
	// A letter is its record in base64 in JSON: 4/3 of it, so the budget
	// holds fewer records than in the drain.
	checkBudget(t, sink.batches, int(cfg.BatchMaxBytes))
	if rep.Written != n || len(sink.ids) != n {
		t.Fatalf("replay wrote %d, the sink got %d; want %d", rep.Written, len(sink.ids), n)
	}
	if left, _ := r.Client().LLen(ctx, q.DeadKey()).Result(); left != 0 {
		t.Errorf("%d letters left in the dead list", left)
	}
}

// windowMeter is a list feed that keeps the bytes read and not yet written
// (what holds records in memory; a written batch holds none while it waits
// for its trim), and their high-water mark.
type windowMeter struct {
	feed
	mu       sync.Mutex
	inFlight int64
	peak     int64
}

func (m *windowMeter) next(ctx context.Context, sz *sizer) (chunk, error) {
	c, err := m.feed.next(ctx, sz)
	m.mu.Lock()
	m.inFlight += c.size()
	m.peak = max(m.peak, m.inFlight)
	m.mu.Unlock()
	return c, err
}

// wrote counts a batch of records the sink wrote out of the window.
func (m *windowMeter) wrote(batch []analytics.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range batch {
		m.inFlight -= int64(len(r.Raw))
	}
}

func (m *windowMeter) bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inFlight
}

// gatedSink holds its first write until open is closed, and tells meter
// (when set) what it wrote.
type gatedSink struct {
	batchRecorder
	open  chan struct{}
	once  sync.Once
	meter *windowMeter
}

func (s *gatedSink) Write(ctx context.Context, batch []analytics.Record) error {
	s.once.Do(func() { <-s.open })
	err := s.batchRecorder.Write(ctx, batch)
	if err == nil && s.meter != nil {
		s.meter.wrote(batch)
	}
	return err
}

// The read-ahead window holds read-ahead batches of small records but only
// read-ahead-bytes of big ones: with the sink stalled, the reader stops at
// the bytes budget (it went on to 16 batches of 1.4 MB, 22 MB against a
// budget of 8 MiB, before the budget existed), and every record arrives.
func TestReadAheadWindowStaysWithinItsBytes(t *testing.T) {
	r := testutil.StartRedis(t)
	cfg := config.Default()
	cfg.ReadAhead, cfg.BatchMaxBytes, cfg.ReadAheadBytes = 16, 2<<20, 8<<20
	const n, size = 48, 700 << 10
	ctx := context.Background()
	for i := range n {
		if err := r.Client().RPush(ctx, analytics.DefaultKey, bigRecord(t, i, size)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	record := int64(len(bigRecord(t, 0, size)))
	meter := &windowMeter{}
	sink := &gatedSink{open: make(chan struct{}), meter: meter}
	p, lease := leasedLoop(t, r, cfg, sink)
	meter.feed = &listFeed{p: p}
	done := make(chan error, 1)
	go func() { done <- p.drain(ctx, ctx, meter, lease.lost) }()

	// With the first write stalled, let the reader fill the window; then
	// give a reader that ignores the budget time to pass it.
	full := int64(cfg.ReadAheadBytes) - record
	testutil.Eventually(t, time.Minute, "the reader filling the window", func() bool { return meter.bytes() >= full })
	time.Sleep(200 * time.Millisecond)
	close(sink.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("peak of the window: %d bytes", meter.peak)
	if limit := int64(cfg.ReadAheadBytes) + record; meter.peak > limit {
		t.Errorf("the window held %d bytes at its peak; read-ahead-bytes %d (and one record): %d", meter.peak, cfg.ReadAheadBytes, limit)
	}
	if len(sink.ids) != n {
		t.Fatalf("%d records delivered, want %d", len(sink.ids), n)
	}
	for i, id := range sink.ids {
		if id != testutil.RecordID(i) {
			t.Fatalf("record %d is %s, want %s: out of order or doubled", i, id, testutil.RecordID(i))
		}
	}
}

// The window always has room for one full batch: a read-ahead-bytes below
// batch-max-bytes is raised to it rather than leaving the reader stuck.
func TestSettingsWindowHoldsOneFullBatch(t *testing.T) {
	cases := []struct {
		window, batch config.ByteSize
		want          int64
	}{
		{32 << 20, 8 << 20, 32 << 20},
		{1 << 20, 8 << 20, 8 << 20},
		{8 << 20, 8 << 20, 8 << 20},
	}
	for _, c := range cases {
		cfg := config.Default()
		cfg.ReadAheadBytes, cfg.BatchMaxBytes = c.window, c.batch
		if got := SettingsOf(cfg, time.Second).ReadAheadBytes; got != c.want {
			t.Errorf("read-ahead-bytes %v, batch-max-bytes %v: the loop's window holds %d bytes, want %d", c.window, c.batch, got, c.want)
		}
	}
}
