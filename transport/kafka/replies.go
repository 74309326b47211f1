package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
)

// replies returns the reply topic, setting up its consumer on first use.
// The consumer starts at exact offsets (the start of a topic the client
// just created, else the end offsets listed now) rather than at a "latest"
// resolved later, so no reply to a Call made after this returns can be
// missed.
func (c *Client) replies(ctx context.Context) (string, error) {
	if t := c.replyTopic.Load(); t != nil {
		return *t, nil
	}
	c.setup.Lock()
	defer c.setup.Unlock()
	if t := c.replyTopic.Load(); t != nil {
		return *t, nil
	}
	if c.closing() {
		return "", micro.Errorf(micro.Unavailable, "kafka: client closed")
	}
	topic, created := c.o.replyTopic, false
	var offsets map[int32]kgo.Offset
	if topic == "" {
		topic, created = c.o.prefix+"micro-reply-"+randomID(), true
		// Created explicitly, not with kgo.AllowAutoTopicCreation: that
		// depends on the brokers' auto.create.topics.enable, would use
		// their default partition count, and would create a namespace's
		// topic on a Send to a namespace no one serves.
		if err := createTopics(ctx, c.cl, 1, topic); err != nil {
			return "", unavailable(ctx, err)
		}
		offsets = map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}
	} else {
		found, err := partitionsOf(ctx, c.cl, topic)
		if err == nil && found[topic] == nil {
			return "", micro.Errorf(micro.NotFound, "kafka: no reply topic %q", topic)
		}
		if err == nil {
			offsets, err = endOffsets(ctx, c.cl, topic, found[topic])
		}
		if err != nil {
			return "", unavailable(ctx, err)
		}
	}
	c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	pollCtx, cancel := context.WithCancel(context.Background())
	c.created, c.pollCancel, c.pollDone = created, cancel, make(chan struct{})
	c.replyTopic.Store(&topic)
	go c.pollReplies(pollCtx)
	return topic, nil
}

// pollReplies hands each reply to the Call waiting for it; replies no one
// waits for (a Call that gave up, another client's) are dropped.
func (c *Client) pollReplies(ctx context.Context) {
	defer close(c.pollDone)
	for {
		fetches := c.cl.PollFetches(ctx)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			c.log.Warn("kafka: fetch replies", "topic", topic, "partition", partition, "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			var id []byte
			for _, h := range r.Headers {
				if h.Key == hdrCorrelation {
					id = h.Value
					break
				}
			}
			c.mu.Lock()
			ch := c.waiters[string(id)]
			delete(c.waiters, string(id))
			c.mu.Unlock()
			if ch != nil {
				ch <- r // buffered; each id is delivered once
			}
		})
	}
}
