package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pumpd/pump/analytics"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const kafkaTopic = "iam-analytics"

// setupKafka starts an in-process Kafka-protocol cluster (kfake: one
// broker, a one-partition topic, in memory) and counts the messages by the
// partition's end offset.
func setupKafka(*env, int) (*target, error) {
	c, err := newKfake()
	if err != nil {
		return nil, err
	}
	addrs := c.ListenAddrs()
	var closeOnce sync.Once
	closeCluster := func() { closeOnce.Do(c.Close) }
	return &target{
		meta:    fmt.Sprintf("{broker: [%q], topic: %s}", addrs[0], kafkaTopic),
		server:  "kfake (franz-go's Kafka-protocol server, in memory) in pumpbench",
		inProc:  true,
		checked: "end offset of the topic's partition",
		count:   func(string) (int, error) { return endOffset(addrs) },
		limit: func(n int) (*limit, error) {
			// The line's cluster holds the n messages in this process's
			// memory: a fresh one, as the line had, keeps them from slowing
			// the limit down.
			closeCluster()
			return kafkaLimit(n)
		},
		close: closeCluster,
	}, nil
}

// kfakeSegmentBytes keeps kfake's log segments small. It holds each
// segment in memory as one slice grown by copying, so at its default of
// 100 MiB the copies, not the produce requests, took most of its CPU (11
// CPU-s per million records in the kafka line, 5.5 with 8 MiB segments):
// a broker appending to a file does not pay that.
const kfakeSegmentBytes = 8 << 20

func newKfake() (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTopic),
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(kfakeSegmentBytes)}))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return c, nil
}

// kafkaLimit produces the messages the sink produces (key, value and
// header as it makes them) for the same records, to the same topic of a
// fresh kfake like the line's, from one franz-go client: every message
// produced asynchronously, then one Flush. The messages are made
// beforehand, into one buffer.
func kafkaLimit(n int) (*limit, error) {
	c, err := newKfake()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	var arena []byte
	ends := make([]int, 0, 3*n) // key, value and record-id of each message
	for i := range n {
		r, err := analytics.Decode(encoded(i))
		if err != nil {
			return nil, err
		}
		arena = append(arena, r.Username...)
		ends = append(ends, len(arena))
		if arena, err = analytics.AppendJSON(arena, &r); err != nil {
			return nil, err
		}
		ends = append(ends, len(arena))
		arena = append(arena, r.ID()...)
		ends = append(ends, len(arena))
	}
	// Uncompressed, as the sink's default; acks=all, as the sink and kgo's
	// idempotent producer do.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(kafkaTopic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var failed atomic.Int64
	cpuBefore := selfCPU()
	start := time.Now()
	for i, from := 0, 0; i < n; i++ {
		key, value, id := ends[3*i], ends[3*i+1], ends[3*i+2]
		rec := &kgo.Record{Key: arena[from:key:key], Value: arena[key:value:value],
			Headers: []kgo.RecordHeader{{Key: "record-id", Value: arena[value:id:id]}}}
		from = id
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	took, cpu := time.Since(start), selfCPU()-cpuBefore
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("%d of %d messages failed", f, n)
	}
	if got, err := endOffset(addrs); err != nil || got != n {
		return nil, fmt.Errorf("the partition holds %d messages, want %d (%v)", got, n, err)
	}
	return &limit{records: n, took: took, cpu: cpu, how: fmt.Sprintf("the sink's %s messages (key, value, header) produced uncompressed with acks=all by one franz-go client, all at once, then one Flush, to a fresh kfake like the line's", thousands(n))}, nil
}

func endOffset(addrs []string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	topic := kmsg.NewListOffsetsRequestTopic()
	topic.Topic = kafkaTopic
	part := kmsg.NewListOffsetsRequestTopicPartition()
	part.Partition = 0
	part.Timestamp = -1 // the latest offset: the next one to be written
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("list offsets: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("list offsets: unexpected answer %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return 0, fmt.Errorf("list offsets: error code %d", p.ErrorCode)
	}
	return int(p.Offset), nil
}
