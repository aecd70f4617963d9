package pump

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
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
	var cycles, gcCPU float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		testutil.Seed(b, r.Client(), analytics.DefaultKey, 0, n)
		runtime.GC() // the seeding's garbage is not the drain's
		c0, cpu0 := gcSpent()
		b.StartTimer()
		if err := p.drainList(ctx, ctx, lease); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c1, cpu1 := gcSpent()
		cycles += c1 - c0
		gcCPU += cpu1 - cpu0
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	// The collector's share, steadier than the wall clock on a busy machine.
	b.ReportMetric(cycles/float64(b.N), "gc-cycles/op")
	b.ReportMetric(gcCPU*1e3/float64(b.N), "gc-cpu-ms/op")
}

// gcSpent reads the collections completed and the CPU the collector has
// spent (estimated by the runtime) so far.
func gcSpent() (cycles, cpuSeconds float64) {
	s := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(s)
	return float64(s[0].Value.Uint64()), s[1].Value.Float64()
}
