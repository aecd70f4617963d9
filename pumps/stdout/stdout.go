package stdout

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "stdout",
		Description: "every record as a JSON line on standard output",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Stdout).cfg },
	})
}

// New returns an unconfigured stdout sink; Configure gives it its meta.
func New() *Stdout {
	return &Stdout{out: Output}
}

// Output is where the stdout pumps made from now on write: standard output,
// or, when the daemon draws a status line on the same terminal, a writer
// that takes the line off the screen around each write.
var Output io.Writer = os.Stdout

// Config is the stdout pump's meta.
type Config struct {
	Prefix string `yaml:"prefix" help:"text written before each JSON line, to tell records from other output"`
}

// Stdout prints records as JSON lines.
type Stdout struct {
	cfg Config
	out io.Writer
	w   *bufio.Writer
	buf []byte
}

// Configure implements pumps.Sink.
func (s *Stdout) Configure(meta pumps.Meta) error {
	return pumps.DecodeMeta(meta, &s.cfg)
}

// Init implements pumps.Sink.
func (s *Stdout) Init(context.Context) error {
	s.w = bufio.NewWriterSize(s.out, 64<<10)
	return nil
}

// Write implements pumps.Sink.
func (s *Stdout) Write(_ context.Context, batch []analytics.Record) error {
	var rejected []pumps.Rejection
	for i := range batch {
		var err error
		s.buf = append(s.buf[:0], s.cfg.Prefix...)
		if s.buf, err = analytics.AppendJSON(s.buf, &batch[i]); err != nil {
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("stdout: %w", err)})
			continue
		}
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// Close implements pumps.Sink.
func (s *Stdout) Close(context.Context) error {
	if s.w == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

// WritesRecordJSON marks the sink as a pumps.JSONWriter: it writes each
// record as analytics.AppendJSON encodes it.
func (s *Stdout) WritesRecordJSON() {}

var (
	_ pumps.Sink       = (*Stdout)(nil)
	_ pumps.JSONWriter = (*Stdout)(nil)
)
