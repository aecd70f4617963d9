package storage

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

const streamKey = "analytics-stream-test"

func newStream(t *testing.T, c redis.UniversalClient, o StreamOptions) *Stream {
	t.Helper()
	s := NewStream(c, streamKey, o)
	if err := s.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// produce appends n entries with the record in field data and returns their ids.
func produce(t *testing.T, c redis.UniversalClient, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		id, err := c.XAdd(context.Background(), &redis.XAddArgs{Stream: streamKey, Values: []any{"data", fmt.Sprintf("record-%d", i)}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func idsOf(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func read(t *testing.T, s *Stream, n int64) []Entry {
	t.Helper()
	es, err := s.Read(context.Background(), n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func ack(t *testing.T, s *Stream, a StreamAck) {
	t.Helper()
	if err := s.Ack(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func wantCounts(t *testing.T, s *Stream, pending, length int64) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Len(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p != pending || n != length {
		t.Fatalf("pending %d, length %d; want %d, %d", p, n, pending, length)
	}
}

func TestStreamKeysShareTheQueueScheme(t *testing.T) {
	s := NewStream(nil, "k", StreamOptions{})
	q := NewQueue(nil, "k", "a", time.Second)
	if s.Key() != "k" || s.DeadKey() != q.DeadKey() || s.ParkedKey("csv") != q.ParkedKey("csv") ||
		s.DeadKey() != "{k}.dead" || s.ParkedKey("csv") != "{k}.parked.csv" {
		t.Fatalf("stream keys %s %s %s, queue keys %s %s", s.Key(), s.DeadKey(), s.ParkedKey("csv"), q.DeadKey(), q.ParkedKey("csv"))
	}
	if s.Group() != "pump" || s.Field() != "data" {
		t.Fatalf("defaults: group %q field %q", s.Group(), s.Field())
	}
}

func TestEnsureKeepsAnExistingGroup(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	produce(t, r.Client(), 3)
	if got := read(t, a, 2); len(got) != 2 {
		t.Fatalf("read %d, want 2", len(got))
	}
	// A second instance starting up must not reset the group's position.
	b := newStream(t, r.Client(), StreamOptions{Consumer: "b"})
	if got := read(t, b, 10); len(got) != 1 {
		t.Fatalf("after a second Ensure the group delivered %d entries, want the 1 left", len(got))
	}
}

func TestStreamReadAckTrim(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	if got := read(t, s, 10); len(got) != 0 {
		t.Fatalf("empty stream delivered %d", len(got))
	}
	ids := produce(t, r.Client(), 10)
	got := read(t, s, 4)
	if !slices.Equal(idsOf(got), ids[:4]) {
		t.Fatalf("read %v, want %v", idsOf(got), ids[:4])
	}
	for i, e := range got {
		if string(e.Data) != fmt.Sprintf("record-%d", i) || e.Deliveries != 1 || e.Fields != nil {
			t.Fatalf("entry %d = %q deliveries %d fields %q", i, e.Data, e.Deliveries, e.Fields)
		}
	}
	wantCounts(t, s, 4, 10)
	ack(t, s, StreamAck{IDs: idsOf(got)})
	wantCounts(t, s, 0, 6)
	rest := read(t, s, 100)
	if !slices.Equal(idsOf(rest), ids[4:]) {
		t.Fatalf("read %v, want %v", idsOf(rest), ids[4:])
	}
	// Acknowledged out of order: the oldest pending entry holds the trim.
	ack(t, s, StreamAck{IDs: idsOf(rest[1:])})
	wantCounts(t, s, 1, 6)
	ack(t, s, StreamAck{IDs: idsOf(rest[:1])})
	wantCounts(t, s, 0, 0)
	if got, _ := s.Read(ctx, 10, 10*time.Millisecond); len(got) != 0 {
		t.Fatalf("drained stream delivered %v", idsOf(got))
	}
}

func TestStreamTrimsPastTheLastDeliveredIDExactly(t *testing.T) {
	// The trim floor is the id after the last delivered one, computed in
	// the script; these ids carry a digit and overflow the sequence part.
	for _, ids := range [][]string{
		{"1-9", "1-10"},
		{"7-99", "7-100"},
		{"5-18446744073709551615", "6-0"},
	} {
		t.Run(ids[0], func(t *testing.T) {
			ctx := context.Background()
			r := testutil.StartRedis(t)
			for _, id := range ids {
				if err := r.Client().XAdd(ctx, &redis.XAddArgs{Stream: streamKey, ID: id, Values: []any{"data", id}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
			got := read(t, s, 1)
			ack(t, s, StreamAck{IDs: idsOf(got)})
			left, err := r.Client().XRange(ctx, streamKey, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 || left[0].ID != ids[1] {
				t.Fatalf("left %v, want only %s", left, ids[1])
			}
		})
	}
}

func TestTwoConsumersShareAStream(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	b := newStream(t, r.Client(), StreamOptions{Consumer: "b"})
	ids := produce(t, r.Client(), 10)
	ga := read(t, a, 5)
	gb := read(t, b, 100)
	if len(ga) != 5 || len(gb) != 5 {
		t.Fatalf("a got %d, b got %d; want 5 each", len(ga), len(gb))
	}
	all := append(idsOf(ga), idsOf(gb)...)
	slices.Sort(all)
	if !slices.Equal(all, ids) {
		t.Fatalf("together %v, want each of %v once", all, ids)
	}
	// Either acknowledges its own; the trim waits for the other's.
	ack(t, b, StreamAck{IDs: idsOf(gb)})
	wantCounts(t, a, 5, 10)
	ack(t, a, StreamAck{IDs: idsOf(ga)})
	wantCounts(t, a, 0, 0)
}

// claimAll polls Claim until it returns want entries (they must idle
// longer than minIdle first).
func claimAll(t *testing.T, s *Stream, count int64, want int) []Entry {
	t.Helper()
	var got []Entry
	testutil.Eventually(t, 10*time.Second, testutil.Pf("%s claims %d entries", s.Consumer(), want), func() bool {
		es, err := s.Claim(context.Background(), time.Millisecond, count)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, es...)
		return len(got) >= want
	})
	if len(got) != want {
		t.Fatalf("claimed %v, want %d entries", idsOf(got), want)
	}
	return got
}

func TestClaimTakesOverAVanishedConsumersEntriesCountingDeliveries(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	b := newStream(t, r.Client(), StreamOptions{Consumer: "b"})
	c := newStream(t, r.Client(), StreamOptions{Consumer: "c"})
	ids := produce(t, r.Client(), 3)
	read(t, a, 3) // and a vanishes
	got := claimAll(t, b, 10, 3)
	if !slices.Equal(idsOf(got), ids) {
		t.Fatalf("b claimed %v, want %v", idsOf(got), ids)
	}
	for i, e := range got {
		if e.Deliveries != 2 || string(e.Data) != fmt.Sprintf("record-%d", i) {
			t.Fatalf("claimed %s: %q, deliveries %d; want record-%d, 2", e.ID, e.Data, e.Deliveries, i)
		}
	}
	// b vanishes as well; c takes them over, two at a time, walking on
	// from where its last claim stopped and starting over at the end.
	first := claimAll(t, c, 2, 2)
	second := claimAll(t, c, 2, 1)
	if !slices.Equal(idsOf(first), ids[:2]) || !slices.Equal(idsOf(second), ids[2:]) {
		t.Fatalf("c claimed %v then %v, want %v then %v", idsOf(first), idsOf(second), ids[:2], ids[2:])
	}
	again := claimAll(t, c, 2, 2)
	if !slices.Equal(idsOf(again), ids[:2]) {
		t.Fatalf("after the walk wrapped c claimed %v, want %v", idsOf(again), ids[:2])
	}
	for _, e := range append(first, second...) {
		if e.Deliveries != 3 {
			t.Fatalf("%s delivered %d times, want 3", e.ID, e.Deliveries)
		}
	}
	for _, e := range again {
		if e.Deliveries != 4 {
			t.Fatalf("%s delivered %d times, want 4", e.ID, e.Deliveries)
		}
	}
	ack(t, c, StreamAck{IDs: ids})
	wantCounts(t, c, 0, 0)
}

func TestClaimAcknowledgesDeletedEntriesAway(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	a := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	b := newStream(t, r.Client(), StreamOptions{Consumer: "b"})
	ids := produce(t, r.Client(), 3)
	read(t, a, 3)
	if err := r.Client().XDel(ctx, streamKey, ids[1]).Err(); err != nil {
		t.Fatal(err)
	}
	got := claimAll(t, b, 10, 2)
	if !slices.Equal(idsOf(got), []string{ids[0], ids[2]}) {
		t.Fatalf("claimed %v, want %v", idsOf(got), []string{ids[0], ids[2]})
	}
	wantCounts(t, b, 2, 2)
}

func TestAnEntryWithoutTheDataFieldKeepsItsFieldsInOrder(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a", Field: "rec"})
	// Repeated field, binary value, field order unlike a sorted map's.
	odd := []any{"zeta", "1", "alpha", "\x00\xff\r\n", "zeta", "2"}
	for _, v := range [][]any{{"rec", "ok"}, odd, {"rec", ""}} {
		if err := r.Client().XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, s, 10)
	if len(got) != 3 {
		t.Fatalf("read %d, want 3", len(got))
	}
	if string(got[0].Data) != "ok" || got[0].Fields != nil {
		t.Fatalf("entry with the field: %q, fields %q", got[0].Data, got[0].Fields)
	}
	if got[1].Data != nil {
		t.Fatalf("entry without the field has Data %q", got[1].Data)
	}
	if fmt.Sprintf("%q", got[1].Fields) != fmt.Sprintf("%q", odd) {
		t.Fatalf("fields %q, want %q", got[1].Fields, odd)
	}
	if got[2].Data == nil || len(got[2].Data) != 0 {
		t.Fatalf("empty record: Data %#v, want empty and not nil", got[2].Data)
	}
	back, err := DecodeFields(EncodeFields(got[1].Fields))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%q", back) != fmt.Sprintf("%q", odd) {
		t.Fatalf("decoded %q, want %q", back, odd)
	}
}

func TestDecodeFieldsRefusesWhatEncodeFieldsDidNotWrite(t *testing.T) {
	for _, b := range []string{"", "x", "*1\r\n", "*1\r\n$3\r\nab\r\n", "*1\r\n$2\r\nab\r\nextra", "*-1\r\n", "*9999\r\n$1\r\na\r\n", "*1\r\n:2\r\n"} {
		if f, err := DecodeFields([]byte(b)); err == nil {
			t.Errorf("DecodeFields(%q) = %q, want an error", b, f)
		}
	}
	if f, err := DecodeFields(EncodeFields(nil)); err != nil || len(f) != 0 {
		t.Errorf("no fields: %q, %v", f, err)
	}
}

func TestAckPushesDeadLettersAndParkedRecordsOnceWhenRetried(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	produce(t, r.Client(), 4)
	got := read(t, s, 4)
	a := StreamAck{
		IDs:         idsOf(got),
		DeadLetters: [][]byte{[]byte("dead-0")},
		Parked:      map[string][][]byte{"mongo": {got[1].Data, got[2].Data}, "csv": {got[3].Data}},
	}
	// The second call stands for the loop's retry after the first ran and
	// its reply was lost.
	ack(t, s, a)
	ack(t, s, a)
	check := func(list string, want ...string) {
		t.Helper()
		got, _ := r.Client().LRange(ctx, list, 0, -1).Result()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", list, got, want)
		}
	}
	check(s.DeadKey(), "dead-0")
	check(s.ParkedKey("mongo"), "record-1", "record-2")
	check(s.ParkedKey("csv"), "record-3")
	wantCounts(t, s, 0, 0)
}

func TestAckCapsTheDeadList(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	produce(t, r.Client(), 3)
	for i, e := range read(t, s, 3) {
		ack(t, s, StreamAck{IDs: []string{e.ID}, DeadLetters: [][]byte{[]byte(fmt.Sprint("d", i))}, MaxLen: 2})
	}
	got, _ := r.Client().LRange(ctx, s.DeadKey(), 0, -1).Result()
	if fmt.Sprint(got) != "[d1 d2]" {
		t.Fatalf("dead list %v, want [d1 d2]", got)
	}
}

func TestASecondGroupKeepsItsUnreadEntries(t *testing.T) {
	r := testutil.StartRedis(t)
	ours := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	tap := newStream(t, r.Client(), StreamOptions{Group: "tap", Consumer: "t"})
	ids := produce(t, r.Client(), 10)
	ack(t, ours, StreamAck{IDs: idsOf(read(t, ours, 100))})
	wantCounts(t, ours, 0, 10)
	got := read(t, tap, 4)
	if !slices.Equal(idsOf(got), ids[:4]) {
		t.Fatalf("tap read %v, want %v", idsOf(got), ids[:4])
	}
	// Pending at the tap holds the trim too.
	wantCounts(t, tap, 4, 10)
	ack(t, tap, StreamAck{IDs: idsOf(got[:2])})
	wantCounts(t, tap, 2, 8)
	ack(t, tap, StreamAck{IDs: idsOf(got[2:])})
	wantCounts(t, tap, 0, 6)
	ack(t, tap, StreamAck{IDs: idsOf(read(t, tap, 100))})
	wantCounts(t, tap, 0, 0)
}

func TestStreamInRedisCluster(t *testing.T) {
	ctx := context.Background()
	cluster := testutil.StartRedisCluster(t, 2)
	c, err := NewClient(Options{Addrs: cluster.Addrs, Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	a := newStream(t, c, StreamOptions{Consumer: "a"})
	b := newStream(t, c, StreamOptions{Consumer: "b"})
	ids := produce(t, c, 5)
	read(t, a, 5)
	got := claimAll(t, b, 10, 5)
	if !slices.Equal(idsOf(got), ids) {
		t.Fatalf("claimed %v, want %v", idsOf(got), ids)
	}
	ack(t, b, StreamAck{IDs: ids, DeadLetters: [][]byte{got[0].Data}, Parked: map[string][][]byte{"csv": {got[1].Data}}})
	wantCounts(t, b, 0, 0)
	for _, k := range []string{b.DeadKey(), b.ParkedKey("csv")} {
		if n, err := c.LLen(ctx, k).Result(); err != nil || n != 1 {
			t.Fatalf("%s holds %d, %v; want 1", k, n, err)
		}
	}
}

// TestAckRunsOnAFullRedis drains a stream on a Redis that refuses its
// producer: the script's RPUSH of dead letters must not be refused, or a
// full Redis could never be drained.
func TestAckRunsOnAFullRedis(t *testing.T) {
	ctx := context.Background()
	srv := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "full redis-server",
		Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"}})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	s := newStream(t, c, StreamOptions{Consumer: "a"})
	elem := fmt.Sprintf("%0900d", 0)
	n := 0
	for ; ; n++ {
		err := c.XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: []any{"data", elem}}).Err()
		if err == nil {
			continue
		}
		if !redis.IsOOMError(err) {
			t.Fatalf("XADD %d: %v, want OOM", n, err)
		}
		break
	}
	// Without ids first: a script whose first write is XACK passes Redis
	// 7's memory check even without the flag, one that starts with RPUSH
	// does not.
	if err := s.Ack(ctx, StreamAck{DeadLetters: [][]byte{[]byte("dead")}}); err != nil {
		t.Fatalf("Ack of a dead letter alone on a full Redis: %v (%v)", err, Classify(err))
	}
	for left := n; left > 0; {
		got := read(t, s, 100)
		if len(got) == 0 {
			t.Fatalf("nothing read with %d left", left)
		}
		if err := s.Ack(ctx, StreamAck{IDs: idsOf(got), DeadLetters: [][]byte{got[0].Data}}); err != nil {
			t.Fatalf("Ack on a full Redis: %v (%v)", err, Classify(err))
		}
		left -= len(got)
	}
	wantCounts(t, s, 0, 0)
}

func TestAStreamDeletedUnderTheGroupIsReadAgain(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	produce(t, r.Client(), 2)
	got := read(t, s, 10)
	if err := r.Client().Del(ctx, streamKey).Err(); err != nil {
		t.Fatal(err)
	}
	// The entries in flight are gone with the stream: their Ack must not
	// fail, and neither may claims on the group that went with it.
	ack(t, s, StreamAck{IDs: idsOf(got), DeadLetters: [][]byte{[]byte("d")}})
	if es, err := s.Claim(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Fatalf("Claim on a deleted stream = %v, %v; want nothing", idsOf(es), err)
	}
	if es := read(t, s, 10); len(es) != 0 {
		t.Fatalf("read %v from a deleted stream", idsOf(es))
	}
	ids := produce(t, r.Client(), 3)
	if es := read(t, s, 10); !slices.Equal(idsOf(es), ids) {
		t.Fatalf("after the stream came back: read %v, want %v", idsOf(es), ids)
	}
}

func TestAckOfManyEntriesAtOnce(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	s := newStream(t, r.Client(), StreamOptions{Consumer: "a"})
	pipe := r.Client().Pipeline()
	for i := 0; i < 2500; i++ {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: []any{"data", "x"}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	got := read(t, s, 5000)
	if len(got) != 2500 {
		t.Fatalf("read %d, want 2500", len(got))
	}
	// More ids than one XACK of the script takes.
	ack(t, s, StreamAck{IDs: idsOf(got), DeadLetters: [][]byte{[]byte("d")}})
	wantCounts(t, s, 0, 0)
	if n, _ := r.Client().LLen(ctx, s.DeadKey()).Result(); n != 1 {
		t.Fatalf("dead list holds %d, want 1", n)
	}
}
