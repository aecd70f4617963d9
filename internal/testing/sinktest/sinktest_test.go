package sinktest

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// recorder is a testing.TB that notes failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func failures(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r.failures
}

func TestCheckRecordsFindsEachDifference(t *testing.T) {
	want := testutil.GoldenExpected(t)
	if got := failures(t, func(tb testing.TB) { CheckRecords(tb, append([]analytics.Record(nil), want...), want) }); len(got) != 0 {
		t.Errorf("the records themselves fail: %v", got)
	}
	changed := append([]analytics.Record(nil), want...)
	changed[1].Request += " "
	if got := failures(t, func(tb testing.TB) { CheckRecords(tb, changed, want) }); len(got) != 1 {
		t.Errorf("a changed request: %d failures, want 1: %v", len(got), got)
	}
	if got := failures(t, func(tb testing.TB) { CheckRecords(tb, want[:2], want) }); len(got) != 1 {
		t.Errorf("a missing record: %d failures, want 1: %v", len(got), got)
	}
}

func TestCheckRejectionsRefusesIndicesOutOfRange(t *testing.T) {
	reason := errors.New("too big")
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"other error", errors.New("down"), 0},
		{"in range", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 0, Err: reason}, {Index: 2, Err: reason}}}, 0},
		{"past the end", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 3, Err: reason}}}, 1},
		{"negative", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: -1, Err: reason}}}, 1},
		{"twice", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 1, Err: reason}, {Index: 1, Err: reason}}}, 1},
		{"no reason", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 1}}}, 1},
		{"wrapped", fmt.Errorf("x: %w", &pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 9, Err: reason}}}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := failures(t, func(tb testing.TB) { CheckRejections(tb, tc.err, 3) }); len(got) != tc.want {
				t.Errorf("%d failures, want %d: %v", len(got), tc.want, got)
			}
		})
	}
}
