//go:build pumptest

// Package faulty is a sink for fault-injection tests only: it lives outside
// pumps/ and is linked only into binaries built with the pumptest build tag
// (cmd/pump/pumptest.go imports it). It appends records as JSON lines like
// jsonl, and fails, stalls or rejects on demand.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

func init() {
	pumps.Register(pumps.Info{
		Type:        "faulty",
		Description: "test-only: JSON lines that fail, stall or reject on demand",
		Sample:      "faulty:\n  type: faulty\n  meta: {path: out.jsonl}\n",
		New:         func() pumps.Sink { return &Faulty{} },
		Config:      func(s pumps.Sink) any { return s.(*Faulty).cfg },
	})
}

// Config is the faulty pump's meta.
type Config struct {
	Path string `yaml:"path"`
	// Delay stalls every write before it writes (it honours the deadline).
	Delay pumps.Duration `yaml:"delay"`
	// DelayAfter stalls every write after the records are in the file and
	// before Write returns: the window between write and trim.
	DelayAfter pumps.Duration `yaml:"delay_after"`
	// DelaySync stalls every Sync (the loop's commit before the trim).
	DelaySync pumps.Duration `yaml:"delay_sync"`
	// FailWhileExists fails every write, transiently, while this file exists.
	FailWhileExists string `yaml:"fail_while_exists"`
	// FailFirst fails the first N writes transiently.
	FailFirst int64 `yaml:"fail_first"`
	// RejectUsername: records of this user are rejected one by one.
	RejectUsername string `yaml:"reject_username"`
	// PermanentUsername: a batch holding this user is refused for good.
	PermanentUsername string `yaml:"permanent_username"`
}

// Faulty is the sink.
type Faulty struct {
	cfg    Config
	file   *os.File
	writes atomic.Int64
	buf    []byte
}

// Configure implements pumps.Sink.
func (f *Faulty) Configure(meta pumps.Meta) error {
	if err := pumps.DecodeMeta(meta, &f.cfg); err != nil {
		return err
	}
	if f.cfg.Path == "" {
		return errors.New("meta.path: must name the output file")
	}
	return nil
}

// Init implements pumps.Sink.
func (f *Faulty) Init(context.Context) error {
	if err := os.MkdirAll(filepath.Dir(f.cfg.Path), 0o755); err != nil {
		return fmt.Errorf("faulty: %w", err)
	}
	file, err := os.OpenFile(f.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("faulty: %w", err)
	}
	f.file = file
	return nil
}

// Write implements pumps.Sink.
func (f *Faulty) Write(ctx context.Context, batch []analytics.Record) error {
	n := f.writes.Add(1)
	if err := stall(ctx, f.cfg.Delay.D()); err != nil {
		return err
	}
	if n <= f.cfg.FailFirst {
		return fmt.Errorf("faulty: injected failure %d of %d", n, f.cfg.FailFirst)
	}
	if f.cfg.FailWhileExists != "" {
		if _, err := os.Stat(f.cfg.FailWhileExists); err == nil {
			return errors.New("faulty: injected outage")
		}
	}
	var rejected []pumps.Rejection
	for i := range batch {
		switch batch[i].Username {
		case f.cfg.PermanentUsername:
			return pumps.Permanent(fmt.Errorf("faulty: user %q is refused", batch[i].Username))
		case f.cfg.RejectUsername:
			rejected = append(rejected, pumps.Rejection{Index: i, Err: errors.New("faulty: record rejected")})
		}
	}
	// One write of the whole batch: O_APPEND keeps it in one piece, so a
	// failed write leaves no half batch for the tests to count.
	f.buf = f.buf[:0]
	next := 0
	for i := range batch {
		if next < len(rejected) && rejected[next].Index == i {
			next++
			continue
		}
		var err error
		if f.buf, err = analytics.AppendJSON(f.buf, &batch[i]); err != nil {
			return pumps.Permanent(err)
		}
		f.buf = append(f.buf, '\n')
	}
	if _, err := f.file.Write(f.buf); err != nil {
		return fmt.Errorf("faulty: write: %w", err)
	}
	if err := stall(ctx, f.cfg.DelayAfter.D()); err != nil {
		return err
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

func stall(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("faulty: stalled write: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// Sync implements pumps.Syncer: the loop trims only after it, so the
// fault tests cross the group commit's path; the file is not fdatasynced
// (a kill -9 leaves the page cache alone).
func (f *Faulty) Sync(ctx context.Context) error {
	return stall(ctx, f.cfg.DelaySync.D())
}

// Close implements pumps.Sink.
func (f *Faulty) Close(context.Context) error {
	if f.file == nil {
		return nil
	}
	return f.file.Close()
}

var (
	_ pumps.Sink   = (*Faulty)(nil)
	_ pumps.Syncer = (*Faulty)(nil)
)
