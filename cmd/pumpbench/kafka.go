package main

import (
	"context"
	"fmt"
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
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTopic))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	addrs := c.ListenAddrs()
	return &target{
		meta:    fmt.Sprintf("{broker: [%q], topic: %s}", addrs[0], kafkaTopic),
		server:  "kfake (franz-go's Kafka-protocol server, in memory) in pumpbench",
		inProc:  true,
		checked: "end offset of the topic's partition",
		count:   func(string) (int, error) { return endOffset(addrs) },
		limit:   func(n int) (*limit, error) { return kafkaLimit(addrs, n) },
		close:   c.Close,
	}, nil
}

// kafkaLimit produces the messages the sink produces (key, value and
// header as it makes them) for the same records, to the same topic of the
// same kfake, from one franz-go client: every message produced
// asynchronously, then one Flush.
func kafkaLimit(addrs []string, n int) (*limit, error) {
	before, err := endOffset(addrs)
	if err != nil {
		return nil, err
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		r, err := analytics.Decode(encoded(i))
		if err != nil {
			return nil, err
		}
		value, err := analytics.AppendJSON(nil, &r)
		if err != nil {
			return nil, err
		}
		recs[i] = &kgo.Record{Key: []byte(r.Username), Value: value,
			Headers: []kgo.RecordHeader{{Key: "record-id", Value: []byte(r.ID())}}}
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
	start := time.Now()
	for _, rec := range recs {
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	took := time.Since(start)
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("%d of %d messages failed", f, n)
	}
	after, err := endOffset(addrs)
	if err != nil {
		return nil, err
	}
	if after-before != n {
		return nil, fmt.Errorf("the partition grew by %d messages, want %d", after-before, n)
	}
	return &limit{records: n, took: took, how: fmt.Sprintf("the sink's %s messages (key, value, header) produced uncompressed to the same topic by one franz-go client, all at once, then one Flush", thousands(n))}, nil
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
