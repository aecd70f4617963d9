package pump

import (
	"context"
	"errors"
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

// syncSink is a pumps.Syncer whose Sync is slow (and fails the first
// failures times). It keeps the order of events and checks, at each of
// them, that no record left the list before a Sync covering it returned.
type syncSink struct {
	scriptedSink
	list     *redis.Client
	key      string
	total    int
	slow     time.Duration
	failures int

	mu      sync.Mutex
	written int // records whose Write returned
	covered int // records a returned Sync covers
	syncs   int
	events  []string
	broken  []string // the invariant's breaches
}

func (s *syncSink) Write(_ context.Context, recs []analytics.Record) error {
	s.check("write " + testutil.IDOf(recs[0]))
	s.mu.Lock()
	s.written += len(recs)
	s.mu.Unlock()
	return nil
}

func (s *syncSink) Sync(ctx context.Context) error {
	s.mu.Lock()
	upTo := s.written
	s.syncs++
	fail := s.syncs <= s.failures
	s.mu.Unlock()
	s.check(fmt.Sprintf("sync start, %d written", upTo))
	time.Sleep(s.slow) // the fdatasync: the workers write meanwhile
	if fail {
		s.check("sync failed")
		return errors.New("disk says no")
	}
	s.mu.Lock()
	s.covered = upTo
	s.mu.Unlock()
	s.check(fmt.Sprintf("sync end, %d covered", upTo))
	return nil
}

// watch checks the invariant without recording an event. It reads the
// list before the covered count, as check does: both only grow, so a trim
// counted first and still above the count read after it is a real breach,
// while the other order flags a sync that ended, and a trim that followed
// it, between the two reads.
func (s *syncSink) watch() {
	n, err := s.list.LLen(context.Background(), s.key).Result()
	s.mu.Lock()
	covered := s.covered
	s.mu.Unlock()
	if trimmed := s.total - int(n); err == nil && trimmed > covered {
		s.mu.Lock()
		s.broken = append(s.broken, fmt.Sprintf("between events: %d records trimmed, only %d synced", trimmed, covered))
		s.mu.Unlock()
	}
}

// check records what happened and how many records were trimmed by then.
func (s *syncSink) check(what string) {
	n, err := s.list.LLen(context.Background(), s.key).Result()
	s.mu.Lock()
	defer s.mu.Unlock()
	trimmed := s.total - int(n)
	ev := fmt.Sprintf("%s (trimmed %d)", what, trimmed)
	s.events = append(s.events, ev)
	if err == nil && trimmed > s.covered {
		s.broken = append(s.broken, fmt.Sprintf("%s: %d records trimmed, only %d synced", what, trimmed, s.covered))
	}
}

func TestOneSyncCoversTheBatchesWrittenWhileTheLastRanAndNothingIsTrimmedBeforeIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int
	}{
		{"slow sync", 0},
		{"a slow sync that fails twice first", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const batches, size = 24, 10
			r := testutil.StartRedis(t)
			testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, batches*size)
			sink := &syncSink{list: r.Client(), key: analytics.DefaultKey, total: batches * size,
				slow: 20 * time.Millisecond, failures: tc.failures}
			var _ pumps.Syncer = sink
			cfg := config.Default()
			cfg.BatchSize, cfg.ReadAhead = size, 4
			out := &Output{Name: "s", Sink: sink, Config: config.PumpDefaults()}
			q := storage.NewQueue(r.Client(), analytics.DefaultKey, "test", 10*time.Second)
			p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if ok, err := q.Acquire(ctx); !ok || err != nil {
				t.Fatal("no lease", err)
			}
			lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
			defer lease.stop()
			// Between the sink's events too: a trim ahead of its sync
			// could else be hidden by the sync that ends after it.
			drained := make(chan struct{})
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for {
					select {
					case <-drained:
						return
					default:
						sink.watch()
					}
				}
			}()
			err := p.drainList(ctx, ctx, lease)
			close(drained)
			<-watched
			if err != nil {
				t.Fatal(err)
			}
			sink.check("drained")
			sink.mu.Lock()
			defer sink.mu.Unlock()
			events := strings.Join(sink.events, "\n")
			if len(sink.broken) > 0 {
				t.Fatalf("trimmed before synced: %s\nevents:\n%s", strings.Join(sink.broken, "; "), events)
			}
			if n, _ := r.Client().LLen(ctx, analytics.DefaultKey).Result(); n != 0 || sink.covered != batches*size {
				t.Fatalf("%d records left at the head, %d of %d synced\nevents:\n%s", n, sink.covered, batches*size, events)
			}
			if ok := sink.syncs - tc.failures; ok >= batches || ok < 1 {
				t.Fatalf("%d successful syncs for %d batches, want fewer: one sync covers the batches written while the last ran\nevents:\n%s",
					ok, batches, events)
			}
			t.Logf("%d batches, %d syncs (%d failed)", batches, sink.syncs, tc.failures)
		})
	}
}

// gatedSyncer is a pumps.Syncer whose first Sync waits for open: the disk
// stalls while the batches keep coming.
type gatedSyncer struct {
	batchRecorder
	open chan struct{}
	once sync.Once
}

func (s *gatedSyncer) Sync(ctx context.Context) error {
	s.once.Do(func() { <-s.open })
	return nil
}

func (s *gatedSyncer) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// A batch written and waiting for its sync gives back its read-ahead slot
// (it holds no records any more), so while one fdatasync runs the pump
// writes further batches for the next one to cover: up to
// UntrimmedBatches, and no further, since all of them wait at the head.
func TestWrittenBatchesWaitForTheirSyncWithoutHoldingTheReadAhead(t *testing.T) {
	const readAhead, size = 2, 10
	bound := UntrimmedBatches(readAhead)
	total := 3 * bound * size
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, total)
	sink := &gatedSyncer{open: make(chan struct{})}
	var _ pumps.Syncer = sink
	cfg := config.Default()
	cfg.BatchSize, cfg.ReadAhead = size, readAhead
	p, lease := leasedLoop(t, r, cfg, sink)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- p.drainList(ctx, ctx, lease) }()

	testutil.Eventually(t, time.Minute, "the batches of the stalled sync's window written", func() bool {
		return sink.writes() >= bound
	})
	time.Sleep(200 * time.Millisecond) // time for a pump that ignores the bound to pass it
	if got := sink.writes(); got != bound {
		t.Errorf("%d batches written while the first sync stalled, want %d", got, bound)
	}
	if left, _ := r.Client().LLen(ctx, analytics.DefaultKey).Result(); left != int64(total) {
		t.Errorf("%d records left in the list before any sync, want all %d", left, total)
	}
	close(sink.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != total {
		t.Fatalf("%d records written, want %d", len(sink.ids), total)
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
