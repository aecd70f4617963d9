package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
	_ "github.com/pumpd/pump/pumps/elasticsearch" // the sinks whose requests a limit replays
	_ "github.com/pumpd/pump/pumps/influx"
)

// requestLog keeps the bodies of the requests a capturing server received.
type requestLog struct {
	mu     sync.Mutex
	bodies [][]byte
	query  string // of the last request
}

func (l *requestLog) keep(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.bodies = append(l.bodies, body)
	l.query = r.URL.RawQuery
	l.mu.Unlock()
	return nil
}

// sinkWrites runs the sink of type typ in this process with meta (a YAML
// flow mapping, as in the pump's configuration) on the n seeded records,
// in batches of the pump's default size, so that a capturing server gets
// exactly the requests the sink makes for them.
func sinkWrites(typ, meta string, n int) error {
	info, ok := pumps.Lookup(typ)
	if !ok {
		return fmt.Errorf("no sink %q", typ)
	}
	var m pumps.Meta
	if err := yaml.Unmarshal([]byte(meta), &m); err != nil {
		return fmt.Errorf("meta %s: %w", meta, err)
	}
	sink := info.New()
	if err := sink.Configure(m); err != nil {
		return err
	}
	ctx := context.Background()
	if err := sink.Init(ctx); err != nil {
		return err
	}
	const batch = 1000
	recs := make([]analytics.Record, 0, batch)
	for start := 0; start < n; start += batch {
		recs = recs[:0]
		for i := start; i < min(start+batch, n); i++ {
			r, err := analytics.Decode(encoded(i))
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if err := sink.Write(ctx, recs); err != nil {
			_ = sink.Close(ctx)
			return fmt.Errorf("%s sink: %w", typ, err)
		}
	}
	return sink.Close(ctx)
}
