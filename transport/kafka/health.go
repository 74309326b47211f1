package kafka

import (
	"context"
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
	exists func(ctx context.Context, topic string) (bool, error) // asks the cluster
	stopC  chan struct{}                                         // closed by stop: no more checks
	mu     sync.Mutex
	warned map[string]time.Time   // state -> when last logged
	gone   map[string]*time.Timer // topic reported missing -> its check, topicGoneAfter later
	fatal  error                  // a state that does not recover, found by a check
	cancel func()                 // ends the poll loop's poll, to see fatal
	once   sync.Once
}

// warnEvery bounds how often a recoverable state is logged.
const warnEvery = 5 * time.Second

// topicGoneAfter is how long after a consumed topic is first reported
// missing the cluster is asked whether it exists; if it does not, its
// deletion is taken as final: metadata can lag a topic's creation, or a
// broker's restart, for a moment.
const topicGoneAfter = 5 * time.Second

func newHealth(log *slog.Logger, exists func(context.Context, string) (bool, error)) *health {
	return &health{log: log, exists: exists, stopC: make(chan struct{}),
		warned: map[string]time.Time{}, gone: map[string]*time.Timer{}}
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
		if _, ok := h.gone[topic]; !ok && h.cancel != nil {
			h.gone[topic] = time.AfterFunc(topicGoneAfter, func() { h.checkTopic(topic, err) })
		}
		h.mu.Unlock()
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

// checkTopic asks the cluster whether topic, reported missing with err,
// exists; if it does not, the poll loop ends with an error naming it.
func (h *health) checkTopic(topic string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), topicGoneAfter)
	defer cancel()
	go func() {
		select {
		case <-h.stopC:
			cancel()
		case <-ctx.Done():
		}
	}()
	ok, cerr := h.exists(ctx, topic)
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.gone, topic) // a later report checks again
	if cerr != nil || ok || h.fatal != nil {
		return // unknown, or there: the client retries
	}
	h.fatal = fmt.Errorf("consumer topic missing: topic %q deleted: %w", topic, err)
	h.cancel()
}

// failure returns the state that does not recover found by a check, or
// nil.
func (h *health) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fatal
}

// watch lets checks end the poll loop's poll with cancel.
func (h *health) watch(cancel func()) {
	h.mu.Lock()
	h.cancel = cancel
	h.mu.Unlock()
}

// stop ends the checks.
func (h *health) stop() {
	h.once.Do(func() { close(h.stopC) })
	h.mu.Lock()
	defer h.mu.Unlock()
	for topic, t := range h.gone {
		t.Stop()
		delete(h.gone, topic)
	}
}
