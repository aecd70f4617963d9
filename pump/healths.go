package pump

import (
	"errors"
	"fmt"
	"strings"
)

// Healths are what the probes report for a daemon's loops, one Health per
// source: live and ready while every one of them is, each failure naming
// its source when there are several.
type Healths struct {
	sources []string
	list    []*Health
	// PumpsDown, when set (before the server starts), names the pumps that
	// are down: readiness stays ok, since their records are parked, and
	// its answer names them (ReadyNote).
	PumpsDown func() []string
}

// Add counts in the health of the loop that drains source.
func (hs *Healths) Add(source string, h *Health) {
	hs.sources = append(hs.sources, source)
	hs.list = append(hs.list, h)
}

// SetStarted marks start-up as finished for every loop.
func (hs *Healths) SetStarted() {
	for _, h := range hs.list {
		h.SetStarted()
	}
}

// SetStopping marks the stop as begun; readiness fails from now on.
func (hs *Healths) SetStopping() {
	for _, h := range hs.list {
		h.SetStopping()
	}
}

// Live returns nil while every loop makes progress.
func (hs *Healths) Live() error { return hs.first((*Health).Live) }

// Ready returns nil when every loop can do its job.
func (hs *Healths) Ready() error { return hs.first((*Health).Ready) }

func (hs *Healths) first(probe func(*Health) error) error {
	if len(hs.list) == 0 {
		return errors.New("starting")
	}
	for i, h := range hs.list {
		if err := probe(h); err != nil {
			if len(hs.list) == 1 {
				return err
			}
			return fmt.Errorf("source %s: %w", hs.sources[i], err)
		}
	}
	return nil
}

// ReadyNote is what a passing readiness answer adds: the pumps that are
// down, by PumpsDown. A pump down does not make the daemon unready (it
// parks that pump's records and goes on with the others), but whoever asks
// should learn of it. "" when none is down.
func (hs *Healths) ReadyNote() string {
	if hs.PumpsDown == nil {
		return ""
	}
	down := hs.PumpsDown()
	if len(down) == 0 {
		return ""
	}
	return "pumps down, their records parked: " + strings.Join(down, ", ")
}

// DownNames names the outputs that are down (state failing or parking),
// each with its state, for Healths.PumpsDown.
func DownNames(outputs []*Output) []string {
	var down []string
	for _, out := range outputs {
		if st := out.State(); st != "writing" {
			down = append(down, out.Name+" ("+st+")")
		}
	}
	return down
}
