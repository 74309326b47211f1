package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dancinggopher/micro"
)

// Topics are managed with raw kmsg requests through the kgo.Client rather
// than with kadm, to keep the dependency set to kgo and kmsg.

// partitionsOf returns the partitions of each of topics that exists; a
// missing topic has no entry. It never creates a topic.
func partitionsOf(ctx context.Context, cl *kgo.Client, topics ...string) (map[string][]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false // asking must not create a topic, whatever the brokers allow
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: metadata of %v: %w", topics, err)
	}
	found := make(map[string][]int32, len(topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		switch err := kerr.ErrorForCode(t.ErrorCode); {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			continue
		case err != nil:
			return nil, fmt.Errorf("kafka: metadata of topic %q: %w", *t.Topic, err)
		}
		ps := make([]int32, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.Partition)
		}
		slices.Sort(ps)
		found[*t.Topic] = ps
	}
	return found, nil
}

// createTopics creates topics with the given number of partitions and the
// brokers' default replication factor; a topic that already exists is not
// an error.
func createTopics(ctx context.Context, cl *kgo.Client, partitions int32, topics ...string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t, partitions, -1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka: create topics %v: %w", topics, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %q: %w", t.Topic, err)
		}
	}
	return nil
}

// deleteTopic deletes topic.
func deleteTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.TopicNames = append(req.TopicNames, topic)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil && len(resp.Topics) > 0 {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("kafka: delete topic %q: %w", topic, err)
	}
	return nil
}

// endOffsets returns the end offset of each partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions []int32) (map[int32]kgo.Offset, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // -1: the end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	shards := cl.RequestSharded(ctx, req)
	offsets := make(map[int32]kgo.Offset, len(partitions))
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, fmt.Errorf("kafka: end offsets of %q: %w", topic, sh.Err)
		}
		for _, t := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("kafka: end offset of %s/%d: %w", topic, p.Partition, err)
				}
				offsets[p.Partition] = kgo.NewOffset().At(p.Offset)
			}
		}
	}
	if len(offsets) != len(partitions) {
		return nil, fmt.Errorf("kafka: end offsets of %q: %d of %d partitions answered", topic, len(offsets), len(partitions))
	}
	return offsets, nil
}

// produceError turns a failed produce to topic into the *micro.Error a
// caller sees.
func produceError(topic string, err error) error {
	code := micro.Unavailable
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return micro.Errorf(micro.NotFound, "kafka: no topic %q: %w", topic, err)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		code = micro.ResourceExhausted
	case errors.Is(err, context.DeadlineExceeded):
		code = micro.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = micro.Canceled
	}
	return micro.Errorf(code, "kafka: produce to %q: %w", topic, err)
}
