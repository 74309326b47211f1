package kafka

import (
	"errors"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// guard returns an error if the user's kgo options (WithClientOptions)
// undid a setting the server's delivery guarantee rests on: marks committed
// only after the record is finished (and nothing else committed), no
// rebalance between a poll and the hand-off of its records, the topics
// consumed, and produces that the broker acknowledges. The server sets
// these after the user's options; guard checks what kgo made of them all.
// cl is the server's client, built to consume topics.
func guard(cl *kgo.Client, topics []string) error {
	var undone []string
	check := func(ok bool, what string) {
		if !ok {
			undone = append(undone, "kgo."+what)
		}
	}
	check(cl.OptValue(kgo.AutoCommitMarks) == true, "AutoCommitMarks")
	check(cl.OptValue(kgo.DisableAutoCommit) == false, "DisableAutoCommit (or TransactionalID)")
	check(cl.OptValue(kgo.BlockRebalanceOnPoll) == true, "BlockRebalanceOnPoll")
	consumed, _ := cl.OptValue(kgo.ConsumeTopics).([]string)
	check(slices.Equal(consumed, slices.Sorted(slices.Values(topics))), "ConsumeTopics")
	check(cl.OptValue(kgo.ConsumeRegex) == false, "ConsumeRegex")
	check(cl.OptValue(kgo.RequiredAcks) != kgo.NoAck(), "RequiredAcks")
	if len(undone) > 0 {
		return errors.New("kafka: WithClientOptions overrides settings the server's delivery guarantee rests on: " +
			strings.Join(undone, ", "))
	}
	return nil
}
