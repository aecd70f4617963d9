package filter

import (
	"sync"
	"sync/atomic"

	"github.com/pumpd/pump/analytics"
)

// Requests holds the parsed request of each record of one batch, for all
// the pumps that filter on it: a request is parsed at most once, by the
// first pump that needs it, and never when no expression reads it. The
// zero value is ready for use; it is safe for concurrent use. Pass it with
// the same records every time.
type Requests struct {
	init   sync.Once
	slots  []requestSlot
	parsed atomic.Int64
}

type requestSlot struct {
	once sync.Once
	m    map[string]any
	ok   bool
}

// empty is the request an expression sees when the record's is not a JSON
// object. Expressions cannot modify it.
var empty = map[string]any{}

// of returns recs[i]'s request and whether it was a JSON object.
func (q *Requests) of(recs []analytics.Record, i int) (map[string]any, bool) {
	q.init.Do(func() { q.slots = make([]requestSlot, len(recs)) })
	s := &q.slots[i]
	s.once.Do(func() {
		q.parsed.Add(1)
		s.m, s.ok = parseRequest(recs[i].Request)
	})
	return s.m, s.ok
}

// Parsed returns how many requests were parsed.
func (q *Requests) Parsed() int64 { return q.parsed.Load() }

func parseRequest(text string) (map[string]any, bool) {
	m, err := parseObject(text)
	if err != nil {
		return empty, false
	}
	return m, true
}
