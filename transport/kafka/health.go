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
// state. Used by the poll loop's goroutine only, but for the log and the
// topic watch.
type health struct {
	log     *slog.Logger
	missing func(ctx context.Context) ([]string, error) // the consumed topics the cluster does not have
	stopC   chan struct{}                               // closed by stop: no more checks
	watched chan struct{}                               // closed when the topic watch returned
	mu      sync.Mutex
	warned  map[string]time.Time // state -> when last logged
	fatal   error                // a state that does not recover, found by a check
	cancel  func()               // ends the poll loop's poll, to see fatal
	once    sync.Once
}

// warnEvery bounds how often a recoverable state is logged.
const warnEvery = 5 * time.Second

// topicGoneAfter is how often the topic watch asks the cluster which
// consumed topics it lacks: a topic missing at two checks in a row, so
// for at least topicGoneAfter, is taken as deleted for good (metadata can
// lag a broker's restart for a moment). The watch does not wait for the
// client to report the topic missing: franz-go's group consumer may drop
// a deleted topic's partitions in a rebalance and report nothing.
const topicGoneAfter = 5 * time.Second

func newHealth(log *slog.Logger, missing func(context.Context) ([]string, error)) *health {
	return &health{log: log, missing: missing, stopC: make(chan struct{}), watched: make(chan struct{}),
		warned: map[string]time.Time{}}
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

// watchTopics asks the cluster every topicGoneAfter which consumed topics
// it lacks, until stop; a topic missing at two answered checks in a row
// ends the poll loop with an error naming it. A check that fails (no
// broker answered) tells nothing either way: the next answered one
// decides.
func (h *health) watchTopics() {
	defer close(h.watched)
	tick := time.NewTicker(topicGoneAfter)
	defer tick.Stop()
	var suspect map[string]bool // missing at the last check
	for {
		select {
		case <-h.stopC:
			return
		case <-tick.C:
		}
		missing, ok := h.check()
		if !ok {
			continue
		}
		now := make(map[string]bool, len(missing))
		for _, topic := range missing {
			now[topic] = true
			if !suspect[topic] {
				continue
			}
			h.mu.Lock()
			if h.fatal == nil {
				h.fatal = fmt.Errorf("consumer topic missing: topic %q deleted: %w", topic, kerr.UnknownTopicOrPartition)
				h.cancel()
			}
			h.mu.Unlock()
			return
		}
		suspect = now
	}
}

// check asks the cluster which consumed topics it lacks, within
// topicGoneAfter or until stop; ok is false if it could not tell.
func (h *health) check() (missing []string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), topicGoneAfter)
	defer cancel()
	go func() {
		select {
		case <-h.stopC:
			cancel()
		case <-ctx.Done():
		}
	}()
	missing, err := h.missing(ctx)
	if err != nil {
		h.log.Debug("kafka: topic check failed", "err", err)
		return nil, false
	}
	return missing, true
}

// failure returns the state that does not recover found by a check, or
// nil.
func (h *health) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fatal
}

// watch lets checks end the poll loop's poll with cancel, and starts the
// topic watch; stop ends it.
func (h *health) watch(cancel func()) {
	h.mu.Lock()
	h.cancel = cancel
	h.mu.Unlock()
	go h.watchTopics()
}

// stop ends the checks, and waits for the topic watch if watch started it.
func (h *health) stop() {
	h.once.Do(func() { close(h.stopC) })
	h.mu.Lock()
	started := h.cancel != nil
	h.mu.Unlock()
	if started {
		<-h.watched
	}
}
