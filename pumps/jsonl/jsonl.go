package jsonl

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/pumps/internal/appendfile"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "jsonl",
		Description: "one JSON object per line, iam's json field names, appended to a file",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*JSONL).cfg },
	})
}

// New returns an unconfigured jsonl sink; Configure gives it its meta.
func New() *JSONL {
	fsync := true // a pointer, so that the meta can say false
	return &JSONL{cfg: Config{FSync: &fsync}}
}

// Config is the jsonl pump's meta.
type Config struct {
	Path  string `yaml:"path" help:"file the JSON lines are appended to; created, with its directory, when missing" required:"true"`
	FSync *bool  `yaml:"fsync" help:"fdatasync the file before a batch is trimmed from Redis (false: a power cut may lose what the page cache held)"`
}

// JSONL appends records to one file as JSON lines. It follows the path
// through log rotation (see appendfile).
type JSONL struct {
	cfg  Config
	file *appendfile.File
	buf  []byte
}

// Configure implements pumps.Sink.
func (j *JSONL) Configure(meta pumps.Meta) error {
	if err := pumps.DecodeMeta(meta, &j.cfg); err != nil {
		return err
	}
	if j.cfg.Path == "" {
		return errors.New("meta.path: must name the file to append to")
	}
	return nil
}

// Init implements pumps.Sink.
func (j *JSONL) Init(context.Context) error {
	j.file = appendfile.New(appendfile.Options{Sync: j.cfg.FSync == nil || *j.cfg.FSync})
	if err := j.file.Open(j.cfg.Path); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Write implements pumps.Sink.
func (j *JSONL) Write(_ context.Context, batch []analytics.Record) error {
	var rejected []pumps.Rejection
	err := j.file.Append(j.cfg.Path, func(w *bufio.Writer) error {
		rejected = rejected[:0]
		for i := range batch {
			// A long record goes out in pieces instead of whole in buf.
			var err error
			if j.buf, err = analytics.StreamJSON(w, j.buf[:0], &batch[i]); errors.Is(err, analytics.ErrJSONTime) {
				rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("jsonl: %w", err)})
				continue
			} else if err != nil {
				return err
			}
			j.buf = append(j.buf, '\n')
			if _, err := w.Write(j.buf); err != nil {
				return err
			}
		}
		return nil
	})
	if cap(j.buf) > pumps.MaxKeptBuffer {
		j.buf = nil // one huge record's buffer goes with its batch
	}
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// Reopen implements pumps.Reopener: the file is closed now (or, when a
// write holds it, after that write) and the path opened again for the next
// batch.
func (j *JSONL) Reopen() error {
	if j.file == nil {
		return nil
	}
	if err := j.file.Reopen(); err != nil {
		return fmt.Errorf("jsonl: reopen: %w", err)
	}
	return nil
}

// Sync implements pumps.Syncer: with fsync on (the default) Write only
// writes and Sync fdatasyncs what the Writes before it wrote; with fsync
// off it does nothing.
func (j *JSONL) Sync(context.Context) error {
	if j.file == nil {
		return nil
	}
	if err := j.file.Sync(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Close implements pumps.Sink.
func (j *JSONL) Close(context.Context) error {
	if j.file == nil {
		return nil
	}
	if err := j.file.Close(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// WritesRecordJSON marks the sink as a pumps.JSONWriter: it writes each
// record as analytics.AppendJSON encodes it.
func (j *JSONL) WritesRecordJSON() {}

var (
	_ pumps.Sink       = (*JSONL)(nil)
	_ pumps.JSONWriter = (*JSONL)(nil)
	_ pumps.Reopener   = (*JSONL)(nil)
	_ pumps.Syncer     = (*JSONL)(nil)
)
