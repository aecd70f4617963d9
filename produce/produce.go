package produce

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/analytics"
)

// Mode is where records go: a list or a stream.
type Mode string

// The modes, as a source's mode in the configuration names them.
const (
	List    Mode = "list"
	Streams Mode = "streams"
)

// ParseMode reads a mode's name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case List, Streams:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want list or streams", s)
}

// Options say where a Producer writes and how much per round trip.
type Options struct {
	Mode Mode   // List (default) or Streams
	Key  string // the list or stream (default analytics.DefaultKey)
	// Field is the stream entry's field that holds the record (default
	// "data", what a streams source reads by default).
	Field string
	// Batch is how many values one RPUSH carries (default 1000); a stream
	// gets one XADD per record.
	Batch int
	// Pipeline is how many commands go in one round trip (default 100).
	Pipeline int
}

// Producer writes records to one list or stream.
type Producer struct {
	client redis.UniversalClient
	o      Options
}

// New returns a producer for o.
func New(client redis.UniversalClient, o Options) (*Producer, error) {
	if o.Mode == "" {
		o.Mode = List
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return nil, fmt.Errorf("produce: %w", err)
	}
	if o.Key == "" {
		o.Key = analytics.DefaultKey
	}
	if o.Field == "" {
		o.Field = "data"
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Pipeline <= 0 {
		o.Pipeline = 100
	}
	return &Producer{client: client, o: o}, nil
}

// Options are the producer's options, defaults filled in.
func (p *Producer) Options() Options { return p.o }

// Send encodes recs as iam does and writes them in order. It returns how
// many were written (by commands Redis answered OK) with the first error.
func (p *Producer) Send(ctx context.Context, recs []analytics.Record) (int, error) {
	raws := make([][]byte, len(recs))
	for i := range recs {
		b, err := analytics.Encode(&recs[i])
		if err != nil {
			return 0, fmt.Errorf("produce: encode record %d: %w", i, err)
		}
		raws[i] = b
	}
	return p.SendRaw(ctx, raws)
}

// SendRaw writes records already encoded, in order, as Send does.
func (p *Producer) SendRaw(ctx context.Context, raws [][]byte) (int, error) {
	per := 1
	if p.o.Mode == List {
		per = p.o.Batch
	}
	sent := 0
	for len(raws) > 0 {
		pipe := p.client.Pipeline()
		var cmds []redis.Cmder
		var sizes []int
		for len(raws) > 0 && len(cmds) < p.o.Pipeline {
			n := min(per, len(raws))
			chunk := raws[:n]
			raws = raws[n:]
			if p.o.Mode == List {
				vals := make([]any, n)
				for i, r := range chunk {
					vals[i] = r
				}
				cmds = append(cmds, pipe.RPush(ctx, p.o.Key, vals...))
			} else {
				cmds = append(cmds, pipe.XAdd(ctx, &redis.XAddArgs{Stream: p.o.Key, Values: []any{p.o.Field, chunk[0]}}))
			}
			sizes = append(sizes, n)
		}
		_, _ = pipe.Exec(ctx)
		var first error
		for i, c := range cmds {
			if err := c.Err(); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			sent += sizes[i]
		}
		if first != nil {
			return sent, fmt.Errorf("produce: write to %s %s: %w", p.o.Mode, p.o.Key, first)
		}
	}
	return sent, nil
}
