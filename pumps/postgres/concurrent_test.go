package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// Writes at once (the pump's workers), some of them overlapping, store
// every record once: a copy that meets a record id another one stored
// first, or is storing, goes through the staging table instead.
func TestConcurrentOverlappingWritesStoreEachRecordOnce(t *testing.T) {
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn})
	var _ pumps.Concurrent = p
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := w * 50 // each batch shares half its records with the next
			errs <- p.Write(ctx, testutil.Records(t, from, from+100))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := connect(t, dsn)
	if n := count(t, c, DefaultTable); n != 15*50+100 {
		t.Errorf("%d rows, want %d", n, 15*50+100)
	}
	got := readAll(t, c, DefaultTable)
	for _, r := range testutil.Records(t, 0, 15*50+100) {
		if _, ok := got[r.ID()]; !ok {
			t.Errorf("record %s missing", testutil.IDOf(r))
		}
	}
}
