package pump

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/pumps/dummy"
	"github.com/pumpd/pump/storage"
)

// heldSink holds its writes until release is closed: a sink slower than
// the progress interval, so the drain lasts as long as the test needs
// without any timing guess. It is the loop's own interface, not a stand-in
// for a server.
type heldSink struct {
	release chan struct{}
	written atomic.Int64
}

func (s *heldSink) Configure(pumps.Meta) error  { return nil }
func (s *heldSink) Init(context.Context) error  { return nil }
func (s *heldSink) Close(context.Context) error { return nil }
func (s *heldSink) Write(ctx context.Context, batch []analytics.Record) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.written.Add(int64(len(batch)))
	return nil
}

func TestLongDrainLogsProgressWithStablePumpKeys(t *testing.T) {
	const n = 3000
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
	cfg := config.Default()
	cfg.BatchSize = 100
	cfg.ProgressInterval = config.Duration(20 * time.Millisecond)
	held := &heldSink{release: make(chan struct{})}
	pc := config.PumpDefaults()
	pc.Timeout = 300 // the held write must outlast the test's wait
	outs := []*Output{{Name: "free", Sink: &dummy.Dummy{}, Config: pc}, {Name: "held", Sink: held, Config: pc}}
	core, logs := observer.New(zapcore.InfoLevel)
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "progress", 10*time.Second)
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: outs, Logger: zap.New(core), Health: NewHealth(time.Hour)})
	ctx := context.Background()
	if ok, err := q.Acquire(ctx); !ok || err != nil {
		t.Fatal("no lease", err)
	}
	lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
	defer lease.stop()

	done := make(chan error, 1)
	go func() { done <- p.drainList(ctx, ctx, lease) }()
	// The drain cannot end before the held sink is released, so it lasts
	// at least one interval: a "draining" line must come.
	testutil.Eventually(t, time.Minute, `a "draining" line`, func() bool { return logs.FilterMessage("draining").Len() > 0 })
	close(held.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the drain did not finish after the sink was released")
	}

	entries := logs.All()
	drainedAt := -1
	for i, e := range entries {
		if e.Message == "drained" {
			drainedAt = i
		}
	}
	if drainedAt < 0 {
		t.Fatalf("no drained line in %v", messages(entries))
	}
	for i, e := range entries {
		if e.Message != "draining" {
			continue
		}
		if i > drainedAt {
			t.Errorf("a draining line after the drained line: %v", messages(entries))
		}
		m := e.ContextMap()
		rate, ok := m["records_per_second"].(float64)
		if !ok {
			t.Errorf("draining line without records_per_second: %v", m)
		}
		if _, ok := m["backlog"].(int64); !ok {
			t.Errorf("draining line without backlog: %v", m)
		}
		if _, hasETA := m["eta"]; hasETA != (rate > 0) {
			t.Errorf("eta present %v with records_per_second %v: want it exactly when the rate is above 0: %v", hasETA, rate, m)
		}
		checkPumps(t, e, map[string]bool{"free": true, "held": true}, "written", "state")
	}
	drained := entries[drainedAt]
	checkPumps(t, drained, map[string]bool{"free": true, "held": true}, "written", "state")
	for _, pm := range drained.ContextMap()["pumps"].([]any) {
		if w := pm.(map[string]any)["written"]; w != int64(n) {
			t.Errorf("drained line: %v written, want %d", pm, n)
		}
	}
}

// checkPumps checks that e's "pumps" field is an array of objects, one per
// pump named in want, each with the given keys, and that no field's key
// carries a pump's name.
func checkPumps(t *testing.T, e observer.LoggedEntry, want map[string]bool, keys ...string) {
	t.Helper()
	m := e.ContextMap()
	for k := range m {
		if strings.Contains(k, ".") {
			t.Errorf("%s line has the dynamic key %q", e.Message, k)
		}
	}
	list, ok := m["pumps"].([]any)
	if !ok || len(list) != len(want) {
		t.Fatalf("%s line: pumps %#v, want an array of %d objects", e.Message, m["pumps"], len(want))
	}
	for _, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("%s line: pumps item %#v is no object", e.Message, item)
		}
		if name, _ := obj["name"].(string); !want[name] {
			t.Errorf("%s line: pumps item %v names no pump of %v", e.Message, obj, want)
		}
		for _, k := range keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s line: pumps item %v has no %q", e.Message, obj, k)
			}
		}
	}
}

func messages(entries []observer.LoggedEntry) []string {
	var ms []string
	for _, e := range entries {
		ms = append(ms, e.Message)
	}
	return ms
}
