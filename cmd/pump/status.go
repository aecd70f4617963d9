package main

import (
	"context"
	"runtime"
	"time"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/storage"
)

// statusReport is GET /status: what an operator asks first, in one answer.
type statusReport struct {
	Instance string       `json:"instance"`
	Ready    string       `json:"ready"` // "ok", or why not
	Source   sourceStatus `json:"source"`
	Lease    leaseStatus  `json:"lease"`
	Backlog  *int64       `json:"backlog"`      // the source's length; null when Redis did not answer
	Dead     *int64       `json:"dead_letters"` // the dead-letter list's length
	Pumps    []pumpStatus `json:"pumps"`
	Build    buildStatus  `json:"build"`
	Errors   []string     `json:"errors,omitempty"` // what could not be read from Redis
}

// sourceStatus says what the counts belong to: the list or stream drained.
type sourceStatus struct {
	Key   string `json:"key"`
	Mode  string `json:"mode"`            // list or streams
	Group string `json:"group,omitempty"` // a stream's consumer group
}

type leaseStatus struct {
	// Held says whether this instance drains the list.
	Held bool `json:"held"`
	// Holder is the lease's token (instance id and the run's nonce), ""
	// when nobody holds it.
	Holder string `json:"holder"`
}

type pumpStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	State   string `json:"state"` // writing, parking or failing
	Written int64  `json:"written"`
	Parked  *int64 `json:"parked"` // the pump's parked list's length
}

type buildStatus struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// status composes /status from what the loop, the health and Redis say.
// Lengths are read live with a short deadline, as /metrics reads them.
func (d *daemon) status(queue *storage.Queue, health *pump.Health) func(context.Context) any {
	instance := d.cfg.InstanceID // a restart-only key: a reload keeps it
	src := d.cfg.SourceList()[0] // restart-only too
	source := sourceStatus{Key: src.Key, Mode: src.Mode}
	if src.Mode == config.ModeStreams {
		source.Group = src.Group
	}
	return func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		r := statusReport{
			Instance: instance,
			Ready:    "ok",
			Source:   source,
			Lease:    leaseStatus{Held: health.Holder()},
			Build:    buildStatus{Version: version, Commit: commit, Go: runtime.Version()},
			Pumps:    []pumpStatus{},
		}
		if err := health.Ready(); err != nil {
			r.Ready = err.Error()
		}
		length := func(list string) *int64 {
			n, err := queue.Len(ctx, list)
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
				return nil
			}
			return &n
		}
		if holder, err := queue.Holder(ctx); err != nil {
			r.Errors = append(r.Errors, err.Error())
		} else {
			r.Lease.Holder = holder
		}
		if n, err := d.loop.Backlog(ctx); err != nil {
			r.Errors = append(r.Errors, err.Error())
		} else {
			r.Backlog = &n
		}
		r.Dead = length(queue.DeadKey())
		d.mu.Lock()
		outputs := d.outputs
		d.mu.Unlock()
		for _, out := range outputs {
			r.Pumps = append(r.Pumps, pumpStatus{
				Name: out.Name, Type: out.Config.Type, State: out.State(),
				Written: out.Stats.Written.Load(), Parked: length(queue.ParkedKey(out.Name)),
			})
		}
		return r
	}
}
