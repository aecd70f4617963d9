package main

import (
	"context"
	"runtime"
	"time"

	"github.com/pumpd/pump/config"
)

// statusReport is GET /status: what an operator asks first, in one answer.
type statusReport struct {
	Instance string         `json:"instance"`
	Ready    string         `json:"ready"` // "ok", or why not
	Sources  []sourceStatus `json:"sources"`
	Pumps    []pumpStatus   `json:"pumps"`
	Build    buildStatus    `json:"build"`
	Errors   []string       `json:"errors,omitempty"` // what could not be read from Redis
}

// sourceStatus is one list or stream drained, and its lists' lengths,
// each null when Redis did not answer.
type sourceStatus struct {
	Key     string      `json:"key"`
	Mode    string      `json:"mode"`            // list or streams
	Group   string      `json:"group,omitempty"` // a stream's consumer group
	Lease   leaseStatus `json:"lease"`
	Backlog *int64      `json:"backlog"`      // the source's length
	Dead    *int64      `json:"dead_letters"` // its dead-letter list's length
	// Parked are the lengths of its parked lists, by the pumps it feeds.
	Parked map[string]*int64 `json:"parked"`
}

type leaseStatus struct {
	// Held says whether this instance drains the list (for a stream:
	// replays its parked lists).
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
	// Parked sums the pump's parked lists over the sources feeding it;
	// null when one of them could not be read.
	Parked *int64 `json:"parked"`
}

type buildStatus struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// status composes /status from what the loops, their health and Redis
// say. Lengths are read live with a short deadline, as /metrics reads them.
func (d *daemon) status() func(context.Context) any {
	instance := d.cfg.InstanceID // a restart-only key: a reload keeps it
	return func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		r := statusReport{
			Instance: instance,
			Ready:    "ok",
			Build:    buildStatus{Version: version, Commit: commit, Go: runtime.Version()},
			Pumps:    []pumpStatus{},
		}
		if err := d.healths.Ready(); err != nil {
			r.Ready = err.Error()
		}
		read := func(n int64, err error) *int64 {
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
				return nil
			}
			return &n
		}
		outputs := d.currentOutputs()
		parked := map[string]*int64{}
		for _, out := range outputs {
			parked[out.Name] = new(int64)
		}
		for _, dr := range d.drains {
			s := sourceStatus{Key: dr.src.Key, Mode: dr.src.Mode, Lease: leaseStatus{Held: dr.health.Holder()}, Parked: map[string]*int64{}}
			if dr.src.Mode == config.ModeStreams {
				s.Group = dr.src.Group
			}
			if holder, err := dr.queue.Holder(ctx); err != nil {
				r.Errors = append(r.Errors, err.Error())
			} else {
				s.Lease.Holder = holder
			}
			s.Backlog = read(dr.loop.Backlog(ctx))
			s.Dead = read(dr.queue.Len(ctx, dr.queue.DeadKey()))
			for _, out := range outputs {
				if !dr.src.Feeds(out.Name) {
					continue
				}
				n := read(dr.queue.Len(ctx, dr.queue.ParkedKey(out.Name)))
				s.Parked[out.Name] = n
				if sum := parked[out.Name]; n == nil || sum == nil {
					parked[out.Name] = nil
				} else {
					*sum += *n
				}
			}
			r.Sources = append(r.Sources, s)
		}
		for _, out := range outputs {
			r.Pumps = append(r.Pumps, pumpStatus{
				Name: out.Name, Type: out.Config.Type, State: out.State(),
				Written: out.Stats.Written.Load(), Parked: parked[out.Name],
			})
		}
		return r
	}
}
