package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func newQueues(t *testing.T) (*testutil.Redis, *Queue, *Queue) {
	r := testutil.StartRedis(t)
	a := NewQueue(r.Client(), "analytics-test", "a", 2*time.Second)
	b := NewQueue(r.Client(), "analytics-test", "b", 2*time.Second)
	return r, a, b
}

func push(t *testing.T, q *Queue, n int) [][]byte {
	t.Helper()
	var elems [][]byte
	for i := 0; i < n; i++ {
		elems = append(elems, []byte(fmt.Sprintf("element-%d", i)))
	}
	if err := q.Push(context.Background(), q.Key(), elems); err != nil {
		t.Fatal(err)
	}
	return elems
}

func TestLeaseIsHeldByOneInstanceAtATime(t *testing.T) {
	ctx := context.Background()
	_, a, b := newQueues(t)
	if ok, err := a.Acquire(ctx); err != nil || !ok {
		t.Fatalf("first instance: Acquire = %v, %v; want the lease", ok, err)
	}
	if ok, err := b.Acquire(ctx); err != nil || ok {
		t.Fatalf("second instance: Acquire = %v, %v; want to stand by", ok, err)
	}
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("holder could not re-acquire its own lease")
	}
	if err := b.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("non-holder Renew = %v, want ErrLeaseLost", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(ctx); h != a.Token() {
		t.Fatalf("a non-holder's Release freed the lease: holder %q", h)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Acquire(ctx); !ok {
		t.Fatal("standby could not take the released lease")
	}
}

func TestLeaseLapsesWhenNotRenewed(t *testing.T) {
	ctx := context.Background()
	r, a, b := newQueues(t)
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	// Expire it as the TTL would, without waiting for it.
	r.Client().PExpire(ctx, a.LeaseKey(), time.Millisecond)
	testutil.Eventually(t, 5*time.Second, "lease lapses", func() bool {
		ok, err := b.Acquire(ctx)
		return err == nil && ok
	})
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("old holder Renew = %v, want ErrLeaseLost", err)
	}
}

func TestTrimRemovesOnlyWhatWasReadWhileHoldingTheLease(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, a, b *Queue)
		want    error
		left    int64
	}{
		{"holder trims the batch it read", func(*testing.T, *Queue, *Queue) {}, nil, 6},
		{"trim refused after the lease passed to another instance", func(t *testing.T, a, b *Queue) {
			_ = a.Release(ctx)
			if ok, _ := b.Acquire(ctx); !ok {
				t.Fatal("b did not get the lease")
			}
		}, ErrLeaseLost, 10},
		{"trim refused when the head was removed by someone else", func(t *testing.T, a, _ *Queue) {
			a.client.LPop(ctx, a.Key())
		}, ErrHeadChanged, 9},
		{"trim refused when the list is shorter than the batch", func(t *testing.T, a, _ *Queue) {
			a.client.LTrim(ctx, a.Key(), 0, 1)
		}, ErrHeadChanged, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, a, b := newQueues(t)
			push(t, a, 10)
			if ok, _ := a.Acquire(ctx); !ok {
				t.Fatal("no lease")
			}
			batch, err := a.Peek(ctx, a.Key(), 0, 4)
			if err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, a, b)
			err = a.Apply(ctx, Trim{Seq: a.NextSeq(), List: a.Key(), Batch: FingerprintOf(batch)})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			if n, _ := a.Len(ctx, a.Key()); n != tc.left {
				t.Fatalf("%d elements left, want %d", n, tc.left)
			}
		})
	}
}

func TestTrimPushesDeadLettersAndParkedRecordsInTheSameStep(t *testing.T) {
	ctx := context.Background()
	_, a, _ := newQueues(t)
	elems := push(t, a, 5)
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	batch, _ := a.Peek(ctx, a.Key(), 0, 5)
	err := a.Apply(ctx, Trim{
		Seq:  a.NextSeq(),
		List: a.Key(), Batch: FingerprintOf(batch),
		DeadLetters: [][]byte{[]byte("dead-1")},
		Parked:      map[string][][]byte{"mongo": {elems[1], elems[2]}, "csv": {elems[3]}},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(list string, want ...string) {
		t.Helper()
		got, _ := a.client.LRange(ctx, list, 0, -1).Result()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", list, got, want)
		}
	}
	check(a.Key())
	check(a.DeadKey(), "dead-1")
	check(a.ParkedKey("mongo"), "element-1", "element-2")
	check(a.ParkedKey("csv"), "element-3")
}

func TestRetriedTrimIsNotAppliedTwice(t *testing.T) {
	ctx := context.Background()
	_, a, _ := newQueues(t)
	// Identical records back to back (a load generator, a producer's retry
	// storm): the head's fingerprint matches the retry as well as the next
	// batch, so only the trim's own number tells them apart.
	x := []byte("x")
	if err := a.Push(ctx, a.Key(), [][]byte{x, x, x, x, x, x}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	batch, _ := a.Peek(ctx, a.Key(), 0, 2)
	tr := Trim{Seq: a.NextSeq(), List: a.Key(), Batch: FingerprintOf(batch)}
	// The second and third calls stand for the loop's retries after the
	// first call ran but its reply was lost.
	for i := 0; i < 3; i++ {
		if err := a.Apply(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := a.Len(ctx, a.Key()); n != 4 {
		t.Fatalf("%d left of 6, want 4: a retried trim removed records nobody read", n)
	}
	next := Trim{Seq: a.NextSeq(), List: a.Key(), Batch: FingerprintOf(batch)}
	if err := a.Apply(ctx, next); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Len(ctx, a.Key()); n != 2 {
		t.Fatalf("%d left, want 2: the next batch's trim was taken for a retry", n)
	}
}

func TestTrimMarksOutliveTheLeaseTTL(t *testing.T) {
	ctx := context.Background()
	r, a, b := newQueues(t)
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	push(t, a, 2)
	if err := a.Apply(ctx, Trim{Seq: a.NextSeq(), List: a.Key()}); err != nil {
		t.Fatal(err)
	}
	// A mark that expired with the lease TTL would let a retry delayed by
	// a long partition apply again while the keeper kept the lease alive.
	if ttl, err := r.Client().TTL(ctx, a.trimMarksKey()).Result(); err != nil || ttl != -1 {
		t.Fatalf("TTL of the trim marks = %v, %v; want none (-1)", ttl, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Acquire(ctx); !ok {
		t.Fatal("b could not take the released lease")
	}
	if n, err := r.Client().HLen(ctx, a.trimMarksKey()).Result(); err != nil || n != 0 {
		t.Fatalf("trim marks after a new holder took over: %d fields, %v; want none", n, err)
	}
}

func TestApplyWantsASequenceNumber(t *testing.T) {
	_, a, _ := newQueues(t)
	if err := a.Apply(context.Background(), Trim{List: a.Key()}); err == nil {
		t.Fatal("Apply without Seq succeeded")
	}
}

func TestDeadLetterCapDropsTheOldest(t *testing.T) {
	ctx := context.Background()
	_, a, _ := newQueues(t)
	if ok, _ := a.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	for i := 0; i < 3; i++ {
		err := a.Apply(ctx, Trim{Seq: a.NextSeq(), List: a.Key(), DeadLetters: [][]byte{[]byte(fmt.Sprint("d", i))}, MaxLen: 2})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := a.client.LRange(ctx, a.DeadKey(), 0, -1).Result()
	if fmt.Sprint(got) != "[d1 d2]" {
		t.Fatalf("dead list %v, want [d1 d2]", got)
	}
}
