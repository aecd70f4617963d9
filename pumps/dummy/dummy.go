package dummy

import (
	"context"
	_ "embed"
	"sync/atomic"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "dummy",
		Description: "counts records and writes nothing (benchmarks, dry runs)",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Dummy).cfg },
	})
}

// New returns an unconfigured dummy sink; Configure gives it its meta.
func New() *Dummy {
	return &Dummy{}
}

// Dummy counts what it is given.
type Dummy struct {
	cfg     Config
	records atomic.Int64
}

// Config is the dummy pump's meta: it has no settings.
type Config struct{}

// Configure implements pumps.Sink; dummy has no meta.
func (d *Dummy) Configure(meta pumps.Meta) error {
	return pumps.DecodeMeta(meta, &d.cfg)
}

// Init implements pumps.Sink.
func (d *Dummy) Init(context.Context) error { return nil }

// Write implements pumps.Sink.
func (d *Dummy) Write(_ context.Context, batch []analytics.Record) error {
	d.records.Add(int64(len(batch)))
	return nil
}

// Records is how many records were written.
func (d *Dummy) Records() int64 { return d.records.Load() }

// Close implements pumps.Sink.
func (d *Dummy) Close(context.Context) error { return nil }

var _ pumps.Sink = (*Dummy)(nil)
