package sinktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// Target is one sink against its server, as its test sets it up.
type Target struct {
	// New returns a fresh sink, unconfigured.
	New func() pumps.Sink
	// Meta points the sink at the test's server.
	Meta pumps.Meta
	// Read returns the records the server holds now, in any order; nil:
	// the sink cannot be read back (the golden and empty-batch checks of
	// what arrived are skipped).
	Read func(t *testing.T) []analytics.Record
	// Break makes the server fail (refuse or drop connections) until the
	// returned restore is called; nil: it cannot be made to, and the Init
	// retry case is skipped.
	Break func(t *testing.T) (restore func())
	// Stall makes the server hold writes without answering until the
	// returned restore is called; nil: it cannot, and the deadline case
	// is skipped.
	Stall func(t *testing.T) (restore func())
	// Golden adjusts what a golden record reads back as (a server that
	// keeps microseconds, say); nil: exactly as expected.json says.
	Golden func(want analytics.Record) analytics.Record
}

// generous bounds what a test waits for: far above any need, so a hang
// fails the test instead of stalling the run, and never a timing claim.
const generous = 2 * time.Minute

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), generous)
	t.Cleanup(cancel)
	return c
}

// Run runs every case of the suite that tg supports.
func Run(t *testing.T, tg Target) {
	t.Run("EmptyBatchIsANoOp", func(t *testing.T) { emptyBatch(t, tg) })
	t.Run("GoldenRecordsFieldByField", func(t *testing.T) { golden(t, tg) })
	t.Run("CloseBeforeInit", func(t *testing.T) { closeBeforeInit(t, tg) })
	t.Run("InitRetriedAfterATransientFailure", func(t *testing.T) { initRetried(t, tg) })
	// Last: a write cut by its deadline may still land later, after the
	// cases that count what the server holds.
	t.Run("WriteHonoursItsDeadline", func(t *testing.T) { deadline(t, tg) })
}

func start(t *testing.T, tg Target) pumps.Sink {
	t.Helper()
	return testutil.StartSink(t, tg.New(), tg.Meta)
}

func emptyBatch(t *testing.T, tg Target) {
	s := start(t, tg)
	var before int
	if tg.Read != nil {
		before = len(tg.Read(t))
	}
	for _, batch := range [][]analytics.Record{nil, {}} {
		if err := s.Write(ctx(t), batch); err != nil {
			t.Fatalf("Write(%d records): %v", len(batch), err)
		}
	}
	if tg.Read != nil {
		if after := len(tg.Read(t)); after != before {
			t.Errorf("an empty batch changed what the server holds: %d records, then %d", before, after)
		}
	}
}

func closeBeforeInit(t *testing.T, tg Target) {
	if err := tg.New().Close(ctx(t)); err != nil {
		t.Errorf("Close of a fresh sink: %v", err)
	}
	s := tg.New()
	if err := s.Configure(tg.Meta); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if err := s.Close(ctx(t)); err != nil {
		t.Errorf("Close after Configure, before Init: %v", err)
	}
}

// initRetried: a sink whose Init failed because the server was away is
// initialised again, by the loop, once it is back. A sink that connects
// lazily (its Init succeeds anyway) must instead fail its first Write,
// transiently, and succeed once the server is back.
func initRetried(t *testing.T, tg Target) {
	if tg.Break == nil {
		t.Skip("the server cannot be made to fail here")
	}
	s := tg.New()
	if err := s.Configure(tg.Meta); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	restore := tg.Break(t)
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.Init(short)
	lazy := err == nil
	if lazy {
		err = s.Write(short, testutil.Records(t, 0, 10))
		if err == nil {
			restore()
			t.Fatal("Init and Write both succeeded against a broken server")
		}
	}
	restore()
	if pumps.IsPermanent(err) {
		t.Errorf("a server that is away is no permanent error: %v", err)
	}
	if !lazy {
		if err := s.Init(ctx(t)); err != nil {
			t.Fatalf("Init after the server came back: %v", err)
		}
	}
	testutil.Eventually(t, generous, "a write once the server is back", func() bool {
		return s.Write(ctx(t), testutil.Records(t, 0, 10)) == nil
	})
}

func deadline(t *testing.T, tg Target) {
	if tg.Stall == nil {
		t.Skip("the server cannot be made to stall here")
	}
	s := start(t, tg)
	restore := tg.Stall(t)
	defer restore()
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Write(short, testutil.Records(t, 0, 10)) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Write to a stalled server returned nil")
		}
		if pumps.IsPermanent(err) {
			t.Errorf("a write cut by its deadline is no permanent error: %v", err)
		}
	case <-time.After(generous):
		t.Fatalf("Write outlived its deadline by %v", generous)
	}
}

func golden(t *testing.T, tg Target) {
	if tg.Read == nil {
		t.Skip("the sink's output cannot be read back here")
	}
	s := start(t, tg)
	before := tg.Read(t) // the other cases' records, on a shared server
	decoded, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	err := s.Write(ctx(t), decoded)
	CheckRejections(t, err, len(decoded))
	if err != nil {
		t.Fatalf("Write of the golden records: %v", err)
	}
	if tg.Golden != nil {
		adjusted := make([]analytics.Record, len(want))
		for i, w := range want {
			adjusted[i] = tg.Golden(w)
		}
		want = adjusted
	}
	// A server may take the records in after Write returned (syslog over
	// TCP): wait for as many as were sent, then compare.
	var got []analytics.Record
	testutil.Eventually(t, generous, "the golden records at the server", func() bool {
		got = without(tg.Read(t), before)
		return len(got) >= len(want)
	})
	CheckRecords(t, got, want)
}

// without is got less one record for each in old.
func without(got, old []analytics.Record) []analytics.Record {
	used := make([]bool, len(old))
	var out []analytics.Record
	for _, g := range got {
		found := false
		for j, o := range old {
			if !used[j] && testutil.SameRecord(g, o) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			out = append(out, g)
		}
	}
	return out
}

// CheckRejections fails t when err is a RejectedError whose indices are
// not distinct positions in a batch of n records.
func CheckRejections(t testing.TB, err error, n int) {
	t.Helper()
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) {
		return
	}
	seen := map[int]bool{}
	for _, r := range rej.Rejections {
		if r.Index < 0 || r.Index >= n {
			t.Errorf("rejection index %d outside the batch of %d", r.Index, n)
		}
		if seen[r.Index] {
			t.Errorf("record %d rejected twice", r.Index)
		}
		seen[r.Index] = true
		if r.Err == nil {
			t.Errorf("rejection of record %d has no reason", r.Index)
		}
	}
}

// CheckRecords fails t unless got holds exactly want (in any order), every
// field compared: the check each sink's golden test used to write out.
func CheckRecords(t testing.TB, got, want []analytics.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records read back, want %d", len(got), len(want))
	}
	used := make([]bool, len(got))
	for i, w := range want {
		found := false
		for j, g := range got {
			if !used[j] && testutil.SameRecord(g, w) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("golden record %d (%s at %d) not read back as it is; nearest: %s", i, w.Username, w.TimeStamp, diff(w, got))
		}
	}
}

// diff names the fields in which the record of got with w's username and
// timestamp differs from w.
func diff(w analytics.Record, got []analytics.Record) string {
	for _, g := range got {
		if g.Username != w.Username || g.TimeStamp != w.TimeStamp {
			continue
		}
		var out []string
		for _, c := range []struct {
			name string
			same bool
		}{
			{"effect", g.Effect == w.Effect}, {"conclusion", g.Conclusion == w.Conclusion},
			{"request", g.Request == w.Request}, {"policies", g.Policies == w.Policies},
			{"deciders", g.Deciders == w.Deciders}, {"expireAt", g.ExpireAt.Equal(w.ExpireAt)},
		} {
			if !c.same {
				out = append(out, c.name)
			}
		}
		return "differs in " + join(out)
	}
	return "no record with its username and timestamp"
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
