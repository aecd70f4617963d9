package kafka

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// Writes at once (the pump's workers) each wait for their own messages,
// and every message holds its own record: the value buffers one Write
// keeps for the next are reused only once Kafka has acknowledged them.
func TestConcurrentWritesProduceEveryRecordIntact(t *testing.T) {
	c := startKafka(t)
	k := newSink(t, pumps.Meta{"broker": brokerList(c), "topic": topic})
	var _ pumps.Concurrent = k
	const writers, batches, size = 8, 5, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				from := (w*batches + b) * size
				errs <- k.Write(context.Background(), testutil.Records(t, from, from+size))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	const n = writers * batches * size
	idOf := make(map[string]string, n) // the seeded id in a record: its record-id
	for _, r := range testutil.Records(t, 0, n) {
		idOf[testutil.IDOf(r)] = r.ID()
	}
	seen := make(map[string]int, n)
	for _, msg := range consume(t, c.ListenAddrs(), n) {
		var rec analytics.Record
		if err := json.Unmarshal(msg.Value, &rec); err != nil {
			t.Fatalf("message %d: %v in %q", msg.Offset, err, msg.Value)
		}
		if got := header(msg, "record-id"); got != idOf[testutil.IDOf(rec)] {
			t.Fatalf("message %d holds record %s under record-id %s, not its own %s", msg.Offset, testutil.IDOf(rec), got, idOf[testutil.IDOf(rec)])
		}
		seen[testutil.IDOf(rec)]++
	}
	for i := range n {
		if got := seen[testutil.RecordID(i)]; got != 1 {
			t.Errorf("record %s produced %d times, want once", testutil.RecordID(i), got)
		}
	}
}

// Writes that give up together on a dead broker each drop the client they
// used, never the fresh one another made since: once the broker is back,
// the sink writes again.
func TestConcurrentWritesThatGiveUpLeaveTheSinkWorking(t *testing.T) {
	port := testutil.FreePort(t)
	first := startKafka(t, kfake.Ports(port))
	k := newSink(t, pumps.Meta{"broker": brokerList(first), "topic": topic, "timeout": "1s"})
	first.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.Write(context.Background(), testutil.Records(t, w*3, w*3+3)); err == nil {
				t.Error("Write with the broker down succeeded")
			} else if pumps.IsPermanent(err) {
				t.Errorf("broker down is transient, got permanent: %v", err)
			}
		}()
	}
	wg.Wait()
	second := startKafka(t, kfake.Ports(port))
	testutil.Eventually(t, 20*time.Second, "a write to the restarted broker", func() bool {
		return k.Write(context.Background(), testutil.Records(t, 100, 103)) == nil
	})
	for i, msg := range consume(t, second.ListenAddrs(), 3) {
		var rec analytics.Record
		if err := json.Unmarshal(msg.Value, &rec); err != nil {
			t.Fatal(err)
		}
		if id := testutil.IDOf(rec); id != testutil.RecordID(100+i) {
			t.Errorf("message %d is %s, want %s", i, id, testutil.RecordID(100+i))
		}
	}
}

// BenchmarkWriteConcurrently writes batches of 1,000 from four goroutines
// at once, as four workers do.
func BenchmarkWriteConcurrently(b *testing.B) {
	c := startKafka(b)
	k := newSink(b, pumps.Meta{"broker": brokerList(c), "topic": topic})
	batch := testutil.Records(b, 0, 1000)
	b.SetParallelism(2) // 2 per core: 4 on this machine's 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := k.Write(context.Background(), batch); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}
