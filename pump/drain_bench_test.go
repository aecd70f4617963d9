package pump

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps/dummy"
	"github.com/pumpd/pump/storage"
)

// BenchmarkDrain drains records from a real redis-server into the dummy
// sink in-process, for CPU and allocation profiles of the loop itself.
func BenchmarkDrain(b *testing.B) {
	const n = 100_000
	r := testutil.StartRedis(b)
	cfg := config.Default()
	cfg.Pumps = map[string]config.Pump{"d": config.PumpDefaults()}
	sink := &dummy.Dummy{}
	out := &Output{Name: "d", Sink: sink, Config: cfg.Pumps["d"]}
	q := storage.NewQueue(r.Client(), analytics.DefaultKey, "bench", 10*time.Second)
	p := New(Options{Settings: SettingsOf(cfg, 30*time.Second), Queue: q, Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	ctx := context.Background()
	if ok, err := q.Acquire(ctx); !ok || err != nil {
		b.Fatal("no lease", err)
	}
	lease := startLeaseKeeper(q, zap.NewNop(), func(error) {})
	defer lease.stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		testutil.Seed(b, r.Client(), analytics.DefaultKey, 0, n)
		b.StartTimer()
		if err := p.drainList(ctx, ctx, lease); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
