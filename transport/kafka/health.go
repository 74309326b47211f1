package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// health sorts the errors the consumer reports into states that do not
// recover, which end Start, and those the client retries, which are
// logged as a warning naming the state, at most once each warnEvery per
// state. Used by the poll loop's goroutine only, but for the log.
type health struct {
	log    *slog.Logger
	mu     sync.Mutex
	warned map[string]time.Time // state -> when last logged
	gone   map[string]time.Time // topic -> since when it is reported missing
}

// warnEvery bounds how often a recoverable state is logged.
const warnEvery = 5 * time.Second

// topicGoneAfter is how long a consumed topic may be reported missing
// before its deletion is taken as final: metadata can lag a topic's
// creation, or a broker's restart, for a moment.
const topicGoneAfter = 5 * time.Second

func newHealth(log *slog.Logger) *health {
	return &health{log: log, warned: map[string]time.Time{}, gone: map[string]time.Time{}}
}

// fatalStates are the consumer states the client does not recover from:
// the member fenced by another with its instance id, its rights to the
// group, a topic or the cluster taken away, or a group the coordinator
// refuses for good.
var fatalStates = map[*kerr.Error]string{
	kerr.FencedInstanceID:           "fenced",
	kerr.UnreleasedInstanceID:       "fenced",
	kerr.GroupAuthorizationFailed:   "authorization lost",
	kerr.TopicAuthorizationFailed:   "authorization lost",
	kerr.ClusterAuthorizationFailed: "authorization lost",
	kerr.SaslAuthenticationFailed:   "authentication failed",
	kerr.InvalidGroupID:             "group refused",
	kerr.GroupMaxSizeReached:        "group refused",
	kerr.InconsistentGroupProtocol:  "group refused",
	kerr.InvalidSessionTimeout:      "group refused",
}

// stateOf names the consumer state err reports, for logs.
func stateOf(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		if st, ok := fatalStates[ke]; ok {
			return st
		}
		switch ke {
		case kerr.IllegalGeneration, kerr.UnknownMemberID, kerr.StaleMemberEpoch:
			return "not a member"
		case kerr.RebalanceInProgress:
			return "rebalancing"
		case kerr.CoordinatorNotAvailable, kerr.NotCoordinator, kerr.CoordinatorLoadInProgress:
			return "coordinator moving"
		case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID:
			return "topic missing"
		}
		return ke.Message
	default:
		return "unreachable"
	}
}

// notMember reports whether err means that the member's generation is
// over: its commits cannot succeed until it rejoins.
func notMember(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.StaleMemberEpoch) || errors.Is(err, kerr.FencedInstanceID)
}

// fetchError handles an error a poll reported for topic and partition (""
// and -1 for the group's): it returns an error naming the state if the
// state does not recover, and otherwise logs it, rate-limited.
func (h *health) fetchError(topic string, partition int32, err error) error {
	st := stateOf(err)
	var ke *kerr.Error
	if errors.As(err, &ke) {
		if _, ok := fatalStates[ke]; ok {
			return fmt.Errorf("consumer %s: %w", st, err)
		}
	}
	if st == "topic missing" && topic != "" {
		h.mu.Lock()
		since, ok := h.gone[topic]
		if !ok {
			since = time.Now()
			h.gone[topic] = since
		}
		h.mu.Unlock()
		if time.Since(since) >= topicGoneAfter {
			return fmt.Errorf("consumer %s: topic %q deleted: %w", st, topic, err)
		}
	}
	h.mu.Lock()
	last, logged := h.warned[st]
	now := time.Now()
	if !logged || now.Sub(last) >= warnEvery {
		h.warned[st] = now
		h.mu.Unlock()
		h.log.Warn("kafka: consumer "+st+"; retrying", "state", st, "topic", topic, "partition", partition, "err", err)
		return nil
	}
	h.mu.Unlock()
	return nil
}

// fetched notes that topic was fetched from: it exists.
func (h *health) fetched(topic string) {
	h.mu.Lock()
	if len(h.gone) > 0 {
		delete(h.gone, topic)
	}
	h.mu.Unlock()
}
