package pump

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// progressed records that the drain moved: a batch was trimmed, or the
// list was found empty. pump_last_progress_timestamp_seconds exports it, so
// a stale value means stuck, not busy (the list may never be empty under a
// steady load, so the last full drain cannot tell).
func (p *Loop) progressed() { p.lastProgress.Store(time.Now().UnixNano()) }

// progress logs a "draining" line every interval while a drain runs: a
// drain of a large backlog takes long, and without it the log says nothing
// between "holding the drain lease" and its end. It only reads the loop's
// counters, so it costs the drain nothing.
type progress struct {
	p     *Loop
	every time.Duration
	stop  chan struct{}
	done  chan struct{}
}

// startProgress starts the reporter of one drain; it returns nil when
// progress-interval is 0. Stop it when the drain ends.
func (p *Loop) startProgress() *progress {
	every := p.cfg.ProgressInterval
	if every <= 0 {
		return nil
	}
	r := &progress{p: p, every: every, stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Stop ends the reporter and waits for it, so no "draining" line follows
// the drain's own end line.
func (r *progress) Stop() {
	if r == nil {
		return
	}
	close(r.stop)
	<-r.done
}

func (r *progress) run() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	last := r.snapshot()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		now := r.snapshot()
		r.log(last, now)
		last = now
	}
}

// counts are the counters at one moment.
type counts struct {
	at      time.Time
	read    int64
	written []int64 // per output, in p.outputs order
}

func (r *progress) snapshot() counts {
	c := counts{at: time.Now(), read: r.p.read.Load(), written: make([]int64, len(r.p.outputs))}
	for i, out := range r.p.outputs {
		c.written[i] = out.Stats.Written.Load()
	}
	return c
}

func (r *progress) log(from, to counts) {
	rate := 0.0
	if secs := to.at.Sub(from.at).Seconds(); secs > 0 {
		rate = float64(to.read-from.read) / secs
	}
	fields := []zap.Field{zap.Float64("records_per_second", float64(int64(rate*10))/10)}
	// LLEN briefly: a slow Redis must not hold the next line back.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := r.p.Backlog(ctx); err == nil {
		fields = append(fields, zap.Int64("backlog", n))
		if rate > 0 {
			eta := time.Duration(float64(n) / rate * float64(time.Second))
			fields = append(fields, zap.Duration("eta", roundETA(eta)))
		}
	}
	fields = append(fields, PumpsField(r.p.outputs, func(i int, _ *Output) []zap.Field {
		return []zap.Field{zap.Int64("written", to.written[i]-from.written[i])}
	}), zap.Duration("window", to.at.Sub(from.at).Round(time.Millisecond)))
	r.p.log.Info("draining", fields...)
}

// roundETA keeps an estimate readable: whole seconds, tenths below 10s
// (rounded to seconds, 0.4s left would read "0s").
func roundETA(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// pumpField is one pump in a log line's "pumps" array. Its keys are the
// same for every pump, so a log pipeline indexes one field, not one per
// pump name.
type pumpField struct {
	name, state string
	fields      []zap.Field // the line's counts for this pump
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (f pumpField) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", f.name)
	for _, field := range f.fields {
		field.AddTo(enc)
	}
	enc.AddString("state", f.state)
	return nil
}

// pumpsField is the "pumps" array of a log line.
type pumpsField []pumpField

// MarshalLogArray implements zapcore.ArrayMarshaler.
func (fs pumpsField) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, f := range fs {
		if err := enc.AppendObject(f); err != nil {
			return err
		}
	}
	return nil
}

// PumpsField is the "pumps" field of the progress, drain and stop lines:
// one object per output with its name, the fields fn gives it (written,
// ...) and its state (writing, parking or failing). The keys never depend
// on the pumps' names, unlike "written.<name>" would.
func PumpsField(outputs []*Output, fn func(i int, out *Output) []zap.Field) zap.Field {
	ps := make(pumpsField, len(outputs))
	for i, out := range outputs {
		ps[i] = pumpField{name: out.Name, state: out.State(), fields: fn(i, out)}
	}
	return zap.Array("pumps", ps)
}
