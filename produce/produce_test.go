package produce

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/storage"
)

func newProducer(t *testing.T, r *testutil.Redis, o Options) *Producer {
	t.Helper()
	p, err := New(r.Client(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readBack returns what the list or stream holds, in order.
func readBack(t *testing.T, r *testutil.Redis, p *Producer) [][]byte {
	t.Helper()
	ctx := context.Background()
	o := p.Options()
	var out [][]byte
	if o.Mode == List {
		vals, err := r.Client().LRange(ctx, o.Key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out = append(out, []byte(v))
		}
		return out
	}
	s := storage.NewStream(r.Client(), o.Key, storage.StreamOptions{Consumer: "test", Field: o.Field})
	if err := s.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		es, err := s.Read(ctx, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			if e.Data == nil {
				t.Fatalf("entry %s has no field %q: %q", e.ID, o.Field, e.Fields)
			}
			out = append(out, e.Data)
		}
	}
}

func TestGoldenRecordsRoundTripByteForByte(t *testing.T) {
	golden := testutil.GoldenRecords(t)
	for _, mode := range []Mode{List, Streams} {
		t.Run(string(mode), func(t *testing.T) {
			r := testutil.StartRedis(t)
			p := newProducer(t, r, Options{Mode: mode})
			var recs []analytics.Record
			for _, g := range golden {
				recs = append(recs, g.Record)
			}
			n, err := p.Send(context.Background(), recs)
			if err != nil || n != len(golden) {
				t.Fatalf("Send = %d, %v; want %d", n, err, len(golden))
			}
			got := readBack(t, r, p)
			if len(got) != len(golden) {
				t.Fatalf("%d records in Redis, want %d", len(got), len(golden))
			}
			for i, g := range golden {
				if !bytes.Equal(got[i], g.Raw) {
					t.Errorf("%s: wrote %x, iam wrote %x", g.File, got[i], g.Raw)
				}
				rec, err := analytics.DecodeShared(got[i])
				if err != nil {
					t.Fatalf("%s: the pump's decoder: %v", g.File, err)
				}
				rec.Raw = nil
				want := g.Expected
				want.Raw = nil
				if !rec.ExpireAt.Equal(want.ExpireAt) {
					t.Errorf("%s: expireAt %v, want %v", g.File, rec.ExpireAt, want.ExpireAt)
				}
				rec.ExpireAt, want.ExpireAt = time.Time{}, time.Time{}
				if !reflect.DeepEqual(rec, want) {
					t.Errorf("%s: decoded %+v, want %+v", g.File, rec, want)
				}
			}
		})
	}
}

func TestManyRecordsArriveInOrderEachOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		n    int
	}{
		// Batch and Pipeline that do not divide n: a short last command
		// and a short last round trip.
		{"list", Options{Mode: List, Key: "produce-list", Batch: 97, Pipeline: 7}, 2500},
		{"stream with its own field", Options{Mode: Streams, Key: "produce-stream", Field: "rec", Pipeline: 33}, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.StartRedis(t)
			p := newProducer(t, r, tc.o)
			g := NewGenerator("run", 1)
			n, err := p.Send(context.Background(), g.Records(tc.n, time.Now()))
			if err != nil || n != tc.n {
				t.Fatalf("Send = %d, %v; want %d", n, err, tc.n)
			}
			got := readBack(t, r, p)
			if len(got) != tc.n {
				t.Fatalf("%d in Redis, want %d", len(got), tc.n)
			}
			for i, b := range got {
				rec, err := analytics.Decode(b)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if id := testutil.IDOf(rec); id != g.ID(i) {
					t.Fatalf("record %d carries id %q, want %q", i, id, g.ID(i))
				}
			}
		})
	}
}

func TestSendReportsWhatRedisRefused(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []Mode{List, Streams} {
		t.Run(string(mode), func(t *testing.T) {
			r := testutil.StartRedis(t)
			if err := r.Client().Set(ctx, "taken", "a string", 0).Err(); err != nil {
				t.Fatal(err)
			}
			p := newProducer(t, r, Options{Mode: mode, Key: "taken", Batch: 2})
			n, err := p.Send(ctx, NewGenerator("x", 1).Records(5, time.Now()))
			if n != 0 || err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("Send to a string key = %d, %v; want 0 and WRONGTYPE", n, err)
			}
		})
	}
}

func TestGeneratorMakesDistinctRecords(t *testing.T) {
	g := NewGenerator("gen", 7)
	now := time.Unix(1764057600, 0)
	seen := map[string]bool{}
	raws := map[string]bool{}
	recs := g.Records(1000, now)
	for i, rec := range recs {
		id := testutil.IDOf(rec)
		if id != fmt.Sprintf("gen-%d", i) || seen[id] {
			t.Fatalf("record %d: id %q (seen before: %v)", i, id, seen[id])
		}
		seen[id] = true
		b, err := analytics.Encode(&rec)
		if err != nil {
			t.Fatal(err)
		}
		raws[string(b)] = true
		if rec.TimeStamp != now.Unix() || !rec.ExpireAt.Equal(now.AddDate(100, 0, 0)) {
			t.Fatalf("record %d: timestamp %d expireAt %v", i, rec.TimeStamp, rec.ExpireAt)
		}
	}
	if len(raws) != 1000 || g.Count() != 1000 {
		t.Fatalf("%d distinct encodings of 1000 (count %d)", len(raws), g.Count())
	}
	again := NewGenerator("gen", 7).Records(1000, now)
	if !reflect.DeepEqual(again, recs) {
		t.Fatal("the same seed gave another sequence")
	}
	users := map[string]bool{}
	effects := map[string]bool{}
	for _, rec := range recs {
		users[rec.Username] = true
		effects[rec.Effect] = true
	}
	if len(users) < 2 || !effects["allow"] || !effects["deny"] {
		t.Fatalf("users %v, effects %v: want a mix", users, effects)
	}
}

func TestModeNames(t *testing.T) {
	for _, s := range []string{"list", "streams"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("stream"); err == nil || err.Error() != `mode "stream": want list or streams` {
		t.Errorf("ParseMode(stream) error %v", err)
	}
	if _, err := New(nil, Options{Mode: "pubsub"}); err == nil {
		t.Error("New with mode pubsub succeeded")
	}
}
