package pump

import (
	"context"
	"fmt"
	"runtime"
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

func TestSparesHandBackClearedSlicesWithRoom(t *testing.T) {
	kept := newSpares[analytics.Record](1)
	recs := kept.get(3)
	recs = append(recs, testutil.MakeRecord(1), testutil.MakeRecord(2))
	kept.put(recs)
	again := kept.get(3)
	if len(again) != 0 || cap(again) != cap(recs) || &again[:1][0] != &recs[0] {
		t.Fatalf("get after put: len %d cap %d, not the kept slice (cap %d)", len(again), cap(again), cap(recs))
	}
	for i, r := range again[:cap(again)] {
		if r.Username != "" || r.Raw != nil {
			t.Fatalf("the kept slice still holds record %d (%q): it would keep its batch's bytes alive", i, r.Username)
		}
	}
	kept.put(again)
	if bigger := kept.get(cap(recs) + 1); cap(bigger) < cap(recs)+1 {
		t.Fatalf("get(%d) returned room for %d", cap(recs)+1, cap(bigger))
	}
	kept.put(make([]analytics.Record, 0, 4))
	kept.put(make([]analytics.Record, 0, 4)) // full: dropped, not blocking
	var none spares[int]
	none.put([]int{1})
	if s := none.get(2); len(s) != 0 || cap(s) < 2 {
		t.Fatalf("a nil spares' get: len %d cap %d", len(s), cap(s))
	}
}

// checkingSink checks, at the start and at the end of each Write, that
// every record it is given is the decoding of its own raw bytes: a slice
// handed back for reuse while a pump still reads it would break that.
type checkingSink struct {
	concurrent bool
	mu         sync.Mutex
	seen       map[string]int
	bad        []string
}

func (*checkingSink) Configure(pumps.Meta) error  { return nil }
func (*checkingSink) Init(context.Context) error  { return nil }
func (*checkingSink) Close(context.Context) error { return nil }

func (s *checkingSink) Write(_ context.Context, batch []analytics.Record) error {
	check := func(when string) {
		for i := range batch {
			want, err := analytics.Decode(batch[i].Raw)
			if err != nil || !testutil.SameRecord(batch[i], want) {
				s.mu.Lock()
				s.bad = append(s.bad, fmt.Sprintf("%s: record %d is %s/%s, its raw bytes say %s/%s (%v)",
					when, i, batch[i].Username, testutil.IDOf(batch[i]), want.Username, testutil.IDOf(want), err))
				s.mu.Unlock()
				return
			}
		}
	}
	check("at the start")
	runtime.Gosched() // let the other pumps' writes and the reader move on
	check("at the end")
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range batch {
		s.seen[testutil.IDOf(batch[i])]++
	}
	return nil
}

type concurrentCheckingSink struct{ checkingSink }

func (*concurrentCheckingSink) WritesConcurrently() {}

func TestReusedRecordSlicesNeverShowAPumpAnotherBatchsRecords(t *testing.T) {
	const n = 3000
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
	cfg := config.Default()
	cfg.BatchSize, cfg.ReadAhead = 40, 4
	all, filtered, concurrent := &checkingSink{seen: map[string]int{}}, &checkingSink{seen: map[string]int{}},
		&concurrentCheckingSink{checkingSink{seen: map[string]int{}}}
	only := config.PumpDefaults()
	only.Filters.Usernames = []string{"user-1", "user-4"}
	workers := config.PumpDefaults()
	workers.Workers = 3
	outs := []*Output{
		{Name: "all", Sink: all, Config: config.PumpDefaults()},
		{Name: "filtered", Sink: filtered, Config: only},
		{Name: "workers", Sink: concurrent, Config: workers},
	}
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "spares-test", 10*time.Second)
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: outs, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	ctx := context.Background()
	if ok, err := q.Acquire(ctx); !ok || err != nil {
		t.Fatal("no lease", err)
	}
	lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
	defer lease.stop()
	if err := p.drainList(ctx, ctx, lease); err != nil {
		t.Fatal(err)
	}
	if len(p.spareRecs) == 0 || len(outs[0].spareRecs) == 0 {
		t.Fatalf("no slice was kept for reuse (loop %d, pump %d): the test checks nothing", len(p.spareRecs), len(outs[0].spareRecs))
	}
	for name, s := range map[string]*checkingSink{"all": all, "filtered": filtered, "workers": &concurrent.checkingSink} {
		for _, b := range s.bad {
			t.Errorf("pump %s: %s", name, b)
		}
		want := 0
		for i := range n {
			rec := testutil.MakeRecord(i)
			if name == "filtered" && rec.Username != "user-1" && rec.Username != "user-4" {
				continue
			}
			want++
			if got := s.seen[testutil.IDOf(rec)]; got != 1 {
				t.Errorf("pump %s: record %d written %d times", name, i, got)
			}
		}
		if len(s.seen) != want {
			t.Errorf("pump %s: %d distinct records written, want %d", name, len(s.seen), want)
		}
	}
}
