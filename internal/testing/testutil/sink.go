package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

// StartSink configures and initialises s with meta, failing the test on
// either error, and closes it when the test ends.
func StartSink[S pumps.Sink](t testing.TB, s S, meta pumps.Meta) S {
	t.Helper()
	if err := s.Configure(meta); err != nil {
		t.Fatalf("Configure(%v): %v", meta, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// PumpConfig writes a configuration with one pump "x" of type typ whose
// meta section is metaYAML (lines indented by six spaces), for the redis
// r, and returns its path.
func PumpConfig(t testing.TB, r *Redis, typ, metaYAML string) string {
	t.Helper()
	return WriteConfig(t, r.Port, "  x:\n    type: "+typ+"\n    meta:\n"+metaYAML, "").ConfigPath
}

// Write calls s.Write with a deadline far above any write's need, so a test
// of a sink that hangs fails instead of stalling the run.
func Write(t testing.TB, s pumps.Sink, batch []analytics.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.Write(ctx, batch)
}

// BenchmarkWrites writes batch to s b.N times and reports records/s.
func BenchmarkWrites(b *testing.B, s pumps.Sink, batch []analytics.Record) {
	b.Helper()
	for b.Loop() {
		if err := Write(b, s, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}
