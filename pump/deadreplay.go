package pump

import (
	"context"
	"errors"
	"fmt"

	"github.com/pumpd/pump/storage"
)

// DeadReplay says which dead letters a replay takes.
type DeadReplay struct {
	// Pump takes only the letters of this pump and writes them to it
	// through the one delivery path. "" moves each letter to the parked
	// list of the pump that refused it, which the running daemon replays.
	Pump string
	// IncludeUndecodable takes the letters no pump could decode as well:
	// into Pump, or, without Pump, back to the tail of the main list.
	IncludeUndecodable bool
	Limit              int64 // at most this many letters looked at (0: all)
}

// DeadReplayReport is what a replay did.
type DeadReplayReport struct {
	Written  int // records the pump took (with Pump)
	Moved    int // letters moved to a parked list or the main list (without Pump)
	Refused  int // letters the pump refused again: still dead, with the new reason
	Filtered int // letters the pump's filters now leave out: removed
	Skipped  int // letters not taken: another pump's, undecodable, or of a pump not configured
}

// ReplayDead replays dead letters as r says. The letters it does not take
// stay exactly where they are. It stops at the first transient failure of
// the pump that outlasts its retry budget: what was written until then is
// removed from the dead list, the rest stays.
func (p *Loop) ReplayDead(ctx context.Context, r DeadReplay) (DeadReplayReport, error) {
	var rep DeadReplayReport
	var out *Output
	if r.Pump != "" {
		for _, o := range p.outputs {
			if o.Name == r.Pump {
				out = o
			}
		}
		if out == nil {
			return rep, fmt.Errorf("no pump %q in the configuration", r.Pump)
		}
	}
	configured := map[string]bool{}
	for _, o := range p.outputs {
		configured[o.Name] = true
	}
	list := p.queue.DeadKey()
	total, err := p.queue.Len(ctx, list)
	if err != nil {
		return rep, err
	}
	if r.Limit <= 0 || r.Limit > total {
		r.Limit = total
	}
	var offset, looked int64
	sz := newSizer(p.cfg.BatchSize, p.cfg.BatchMaxBytes) // letters of huge records are read a few at a time
	for looked < r.Limit {
		entries, err := p.peek(ctx, list, offset, sz, min(sz.next(), r.Limit-looked))
		if err != nil {
			return rep, err
		}
		if len(entries) == 0 {
			break
		}
		looked += int64(len(entries))
		edits := make([]storage.Edit, len(entries))
		var raws [][]byte
		var from []int // entries index of each of raws
		for i, e := range entries {
			edits[i] = storage.Edit{Op: storage.OpKeep}
			d, err := DecodeDeadLetter(e)
			take := err == nil && (d.Pump != "" && (r.Pump == "" || d.Pump == r.Pump) || d.Pump == "" && r.IncludeUndecodable)
			switch {
			case !take:
				rep.Skipped++
			case r.Pump != "":
				raws = append(raws, d.Raw)
				from = append(from, i)
			case d.Pump == "":
				edits[i] = storage.Edit{Op: storage.OpMove, To: p.queue.Key(), Value: d.Raw}
				rep.Moved++
			case configured[d.Pump]:
				edits[i] = storage.Edit{Op: storage.OpMove, To: p.queue.ParkedKey(d.Pump), Value: d.Raw}
				rep.Moved++
			default:
				rep.Skipped++
			}
		}
		var failed error
		if len(raws) > 0 {
			b := p.decode(raws)
			s := out.newShare(b)
			p.deliver(ctx, out, s, deliverPolicy{budget: out.Config.MaxRetryTime.D()})
			switch {
			case s.unfinished:
				return rep, fmt.Errorf("replay into pump %s stopped: %w", out.Name, context.Cause(ctx))
			case len(s.parked) > 0:
				// Nothing of this window was written: it stays dead as it is.
				failed = fmt.Errorf("pump %s keeps failing; the letters not replayed stay dead", out.Name)
			default:
				if err := p.syncUpTo(ctx, out, s.wrote); err != nil {
					return rep, fmt.Errorf("replay into pump %s stopped before its sync: %w", out.Name, context.Cause(ctx))
				}
				p.settle(b, s, from, edits, &rep)
			}
		}
		if failed == nil {
			if err := p.queue.EditWindow(ctx, list, offset, storage.FingerprintOf(entries), edits); err != nil {
				if errors.Is(err, storage.ErrHeadChanged) {
					return rep, fmt.Errorf("%w: the dead-letter cap or another dlq command removed letters meanwhile; run it again", err)
				}
				return rep, err
			}
		}
		for _, e := range edits {
			if e.Op == storage.OpKeep || e.Op == storage.OpSet {
				offset++
			}
		}
		if failed != nil {
			rep.Skipped += len(raws)
			return rep, failed
		}
	}
	return rep, nil
}

// settle turns what the pump did with the taken letters of one window into
// edits of the dead list: written or filtered out, removed; refused again,
// replaced by a letter with the new reason; undecodable still, kept.
func (p *Loop) settle(b *batch, s *share, from []int, edits []storage.Edit, rep *DeadReplayReport) {
	decoded := make(map[int]bool, len(b.rawIdx))
	for _, i := range b.rawIdx {
		decoded[i] = true
	}
	for j, i := range from {
		if decoded[j] {
			edits[i] = storage.Edit{Op: storage.OpRemove}
		} else {
			rep.Skipped++ // undecodable still: stays as it is
		}
	}
	for k, j := range s.deadSrc {
		edits[from[j]] = storage.Edit{Op: storage.OpSet, Value: s.dead[k]}
	}
	rep.Written += s.written
	rep.Refused += len(s.dead)
	rep.Filtered += len(b.records) - len(s.recs)
}
