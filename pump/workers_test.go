package pump

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/storage"
)

// gateSink holds every Write until the gate opens, counting the writes in
// flight at once, and keeps the ids it was given.
type gateSink struct {
	scriptedSink
	gate chan struct{}

	mu       sync.Mutex
	inFlight int
	most     int
	inits    int
	ids      map[string]int
}

func (s *gateSink) WritesConcurrently() {}

func (s *gateSink) Init(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inits++
	return nil
}

func (s *gateSink) Write(ctx context.Context, recs []analytics.Record) error {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.ids[testutil.IDOf(r)]++
	}
	return nil
}

func (s *gateSink) state() (inFlight, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.most
}

// A pump with workers: 3 has three batches in its sink at once, never
// more (the read-ahead holds a fourth ready), initialises the sink once
// though three writes find it needed, and every record arrives once.
func TestWorkersWriteSeveralBatchesOfOnePumpAtOnce(t *testing.T) {
	const workers, batches, size = 3, 12, 10
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, batches*size)
	sink := &gateSink{gate: make(chan struct{}), ids: map[string]int{}}
	cfg := config.Default()
	cfg.BatchSize, cfg.ReadAhead = size, workers+1
	pc := config.PumpDefaults()
	pc.Workers = workers
	out := &Output{Name: "w", Sink: sink, Config: pc}
	out.NeedsInit.Store(true)
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "test", 10*time.Second)
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if ok, err := q.Acquire(ctx); !ok || err != nil {
		t.Fatal("no lease", err)
	}
	lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
	defer lease.stop()
	drained := make(chan error, 1)
	go func() { drained <- p.drainList(ctx, ctx, lease) }()

	// The gate stays shut until workers writes wait at it together.
	deadline := time.Now().Add(time.Minute)
	for {
		if n, _ := sink.state(); n == workers {
			break
		}
		if time.Now().After(deadline) {
			n, most := sink.state()
			close(sink.gate)
			<-drained
			t.Fatalf("%d writes in flight (at most %d) a minute after the drain began, want %d", n, most, workers)
		}
		time.Sleep(time.Millisecond) // polling the sink's count
	}
	close(sink.gate)
	if err := <-drained; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, most := sink.state(); most != workers {
		t.Errorf("at most %d writes in flight, want %d", most, workers)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.inits != 1 {
		t.Errorf("Init ran %d times, want once", sink.inits)
	}
	if len(sink.ids) != batches*size {
		t.Errorf("%d distinct records written, want %d", len(sink.ids), batches*size)
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Errorf("record %s written %d times", id, n)
		}
	}
	if n, _ := r.Client().LLen(ctx, analytics.DefaultKey).Result(); n != 0 {
		t.Errorf("%d records left at the head", n)
	}
}
