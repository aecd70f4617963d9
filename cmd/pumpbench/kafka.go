package main

import (
	"context"
	"fmt"
	"time"

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
		close:   c.Close,
	}, nil
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
