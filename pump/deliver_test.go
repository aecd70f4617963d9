package pump

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

// stuckSink's Write ignores its context until release is closed, like a
// write to a FIFO nobody reads.
type stuckSink struct {
	scriptedSink
	release chan struct{}
}

func (s *stuckSink) Write(context.Context, []analytics.Record) error {
	<-s.release
	return nil
}

// panicSink panics in Write.
type panicSink struct{ scriptedSink }

func (*panicSink) Write(context.Context, []analytics.Record) error { panic("sink bug") }

func newTestPump(out *Output) *Loop {
	return New(Options{Settings: defaultSettings(), Queue: storage.NewQueue(nil, "k", "t", time.Second),
		Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
}

func TestAWriteThatIgnoresItsContextIsAbandonedAtItsTimeout(t *testing.T) {
	sink := &stuckSink{release: make(chan struct{})}
	out := &Output{Name: "x", Sink: sink, Config: config.PumpDefaults()}
	newTestPump(out)
	recs := []analytics.Record{{Username: "a"}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := out.write(ctx, recs); !errors.Is(err, errAbandoned) {
		t.Fatalf("write = %v, want errAbandoned", err)
	}
	// The abandoned write still holds the sink: the next one waits for it
	// within its own timeout instead of writing beside it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := out.write(ctx2, recs); !errors.Is(err, errAbandoned) {
		t.Fatalf("second write = %v, want errAbandoned while the first runs", err)
	}
	close(sink.release)
	if err := out.write(context.Background(), recs); err != nil {
		t.Fatalf("write after the sink returned = %v", err)
	}
}

func TestAPanickingSinkRefusesTheBatchForGood(t *testing.T) {
	out := &Output{Name: "x", Sink: &panicSink{}, Config: config.PumpDefaults()}
	p := newTestPump(out)
	s := out.newShare(testBatch(t, "a", "b"))
	p.deliver(context.Background(), out, s, deliverPolicy{budget: time.Minute})
	if len(s.dead) != 2 || s.written != 0 {
		t.Fatalf("dead %d, written %d; want both records dead", len(s.dead), s.written)
	}
	if err := out.write(context.Background(), s.recs); !pumps.IsPermanent(err) {
		t.Fatalf("write = %v, want a permanent error", err)
	}
}

func TestADownPumpIsParkedWithoutAWriteUntilItWritesAgain(t *testing.T) {
	sink := &scriptedSink{script: []error{errors.New("down")}}
	out := &Output{Name: "x", Sink: sink, Config: config.PumpDefaults()}
	p := newTestPump(out)
	drain := deliverPolicy{budget: 0, parkWhenDown: true}
	s := out.newShare(testBatch(t, "a"))
	p.deliver(context.Background(), out, s, drain)
	if len(s.parked) != 1 || out.State() != "parking" {
		t.Fatalf("parked %d, state %s; want the share parked and the pump down", len(s.parked), out.State())
	}
	s = out.newShare(testBatch(t, "b"))
	p.deliver(context.Background(), out, s, drain)
	if sink.writes != 1 || len(s.parked) != 1 {
		t.Fatalf("%d writes, %d parked: a down pump's share must be parked at once", sink.writes, len(s.parked))
	}
	// The probe (the parked replay) writes; once it succeeds the drain
	// writes again.
	probe := out.newShare(testBatch(t, "c"))
	p.deliver(context.Background(), out, probe, deliverPolicy{})
	if probe.written != 1 || out.State() != "writing" {
		t.Fatalf("probe wrote %d, state %s", probe.written, out.State())
	}
	s = out.newShare(testBatch(t, "d"))
	p.deliver(context.Background(), out, s, drain)
	if s.written != 1 {
		t.Fatal("the drain did not write after the probe succeeded")
	}
}
