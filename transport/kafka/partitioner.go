package kafka

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitioner sends a keyed record where Kafka's default partitioner does
// (murmur2 of the key), and spreads records without a key over the
// partitions in turn. Unlike kgo's sticky default, consecutive requests go
// to different partitions, so that one slow handler does not hold up the
// requests produced right after it.
type partitioner struct{}

func (partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &topicPartitioner{keyed: kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

type topicPartitioner struct {
	keyed kgo.TopicPartitioner
	next  atomic.Uint32
}

func (p *topicPartitioner) RequiresConsistency(r *kgo.Record) bool { return r.Key != nil }

func (p *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Key != nil {
		return p.keyed.Partition(r, n)
	}
	return int(p.next.Add(1)-1) % n
}
