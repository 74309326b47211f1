package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committer commits the marked offsets in the background, one commit at a
// time, soon after records are handled. It also keeps a window: workers
// handle a record only while fewer than window records are handled (or in
// flight) but not known to be committed, so that a member that dies
// without Stop leaves at most window records to be handled again.
//
// Every commit of the server's goes through the committer, one at a
// time (commitMu): franz-go's CommitMarkedOffsets reads the marks before
// it waits for a commit under way, so of two commits run at once the one
// that read the older marks may reach the broker last and rewind the
// group's offsets. The one that matters is the commit on revoke: a
// background commit that read a revoked partition's marks before its
// worker stopped, sent after the revoke's, would make the partition's
// next owner start behind what was handled here. So a revoke waits for
// the background commit under way, and a background commit sends only the
// partitions that still have a worker (owned): none is sent for a
// partition after its revoke began.
type committer struct {
	cl       *kgo.Client
	log      *slog.Logger
	window   int64
	owned    func(map[string]map[int32]kgo.EpochOffset) // drops the partitions not consumed here any more
	wakeC    chan struct{}                              // capacity 1: wakes coalesce while a commit runs
	quit     chan struct{}                              // closed by stop: no further background commit
	cancel   context.CancelFunc                         // cancels the background commit under way
	done     chan struct{}
	once     sync.Once
	commitMu sync.Mutex // held by each commit, so that commits read marks and reach the broker in the same order

	mu        sync.Mutex
	taken     int64         // records reserved by workers, less those released
	finished  int64         // records finished and marked
	committed int64         // records known committed (or given up): finished when a commit began that succeeded
	progress  chan struct{} // closed when committed advances or held ends
	held      bool          // not a member any more: no reservation until the member rejoins
	epoch     int64         // counts lost and rejoined: a commit failure from before them is stale
	given     int64         // records finished but given up uncommitted since the member was lost last

	failing time.Time // since when commits fail; zero while they succeed
	warned  time.Time // when a failing commit was last logged as a warning
}

// newCommitter returns a committer of the partitions owned keeps; its cl
// is set before it runs.
func newCommitter(log *slog.Logger, window int, owned func(map[string]map[int32]kgo.EpochOffset)) *committer {
	return &committer{
		log: log, window: int64(window), owned: owned,
		wakeC: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		progress: make(chan struct{}),
	}
}

// retryCommit is how soon a failed commit is retried while records wait
// for it.
const retryCommit = 50 * time.Millisecond

func (c *committer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case <-c.wakeC:
		}
		select { // both may be ready
		case <-c.quit:
			return
		default:
		}
		c.mu.Lock()
		upTo, epoch := c.finished, c.epoch
		c.mu.Unlock()
		// Fails while the group rebalances; the marks stay and are
		// committed by a later commit or on revoke.
		if err := c.commitOwned(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return
			}
			c.failed(err, epoch)
			t := time.NewTimer(retryCommit)
			select {
			case <-t.C:
				c.wake()
			case <-c.quit:
				t.Stop()
				return
			}
			continue
		}
		c.mu.Lock()
		if !c.failing.IsZero() && !c.warned.IsZero() {
			c.log.Info("kafka: commits succeed again", "failing_for", time.Since(c.failing).Round(time.Millisecond))
		}
		c.failing, c.warned, c.given = time.Time{}, time.Time{}, 0
		if upTo > c.committed || c.held {
			c.committed = max(c.committed, upTo)
			c.held = false
			c.advanced()
		}
		c.mu.Unlock()
	}
}

// commitOwned commits the marked offsets of the partitions that still
// have a worker.
func (c *committer) commitOwned(ctx context.Context) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	offsets := c.cl.MarkedOffsets()
	c.owned(offsets)
	if len(offsets) == 0 {
		return nil
	}
	var rerr error
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && rerr == nil {
					rerr = err
				}
			}
		}
	})
	return rerr
}

// owned drops from offsets the partitions that have no worker: revoked,
// lost, or all of them once Stop began.
func (ps *partitions) owned(offsets map[string]map[int32]kgo.EpochOffset) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for topic, parts := range offsets {
		for p := range parts {
			if ps.m[topicPartition{topic, p}] == nil {
				delete(parts, p)
			}
		}
		if len(parts) == 0 {
			delete(offsets, topic)
		}
	}
}

// offsetsOf returns the offsets in all of the partitions parts, for logs.
func offsetsOf(all map[string]map[int32]kgo.EpochOffset, parts map[string][]int32) map[string]map[int32]int64 {
	out := make(map[string]map[int32]int64, len(parts))
	for topic, ps := range parts {
		out[topic] = make(map[int32]int64, len(ps))
		for _, p := range ps {
			if o, ok := all[topic][p]; ok {
				out[topic][p] = o.Offset
			}
		}
	}
	return out
}

// commitMarked commits every marked offset, once the background commit
// under way is done: on revoke, after the revoked partitions' workers
// stopped, and at Stop.
func (c *committer) commitMarked(ctx context.Context) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	return c.cl.CommitMarkedOffsets(ctx)
}

// commitWarnAfter is how long commits may fail before each failure is a
// warning, at most one each commitWarnAfter, rather than a debug line: a
// rebalance fails them for a moment, a broker that does not take them for
// longer is the operator's business.
const commitWarnAfter = 5 * time.Second

// failed logs a commit's failure and, if it means that the member is not
// one any more (its generation is over), releases the commit window: the
// uncommitted marks are lost with the partitions, and their records will
// be handled again, so they no longer count against the window. Workers
// then take no reservation until the member rejoined, or a commit
// succeeds (the failure was a rebalance's, and the member is in the new
// generation), so that a member cut off from its group does not handle
// more than a window of records it cannot commit. A failure from before
// the last loss or rejoin (epoch) releases nothing.
func (c *committer) failed(err error, epoch int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.failing.IsZero() {
		c.failing = now
	}
	level := slog.LevelDebug
	if now.Sub(c.failing) >= commitWarnAfter && now.Sub(c.warned) >= commitWarnAfter {
		level, c.warned = slog.LevelWarn, now
	}
	c.log.Log(context.Background(), level, "kafka: commit failed; retrying", "state", stateOf(err),
		"failing_for", now.Sub(c.failing).Round(time.Millisecond), "err", err)
	if notMember(err) && epoch == c.epoch && !c.held {
		c.held = true
		c.given += c.finished - c.committed
		c.committed = c.finished
		c.advanced()
	}
}

// lost releases the commit window when the member lost its partitions: the
// records finished but not committed are forgotten with the partitions'
// marks, to be handled again. It returns how many those are.
func (c *committer) lost() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := c.given + c.finished - c.committed
	c.given = 0
	c.committed = c.finished
	c.epoch++
	c.held = false
	c.advanced()
	return dropped
}

// rejoined lets reservations go on once the member has (re)joined its
// group.
func (c *committer) rejoined() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if c.held {
		c.held = false
		c.advanced()
	}
}

// advanced wakes the workers waiting for the window. c.mu is held.
func (c *committer) advanced() {
	close(c.progress)
	c.progress = make(chan struct{})
}

// reserve waits until the window has room for one more record and takes
// it, or returns false if quit is closed first.
func (c *committer) reserve(quit <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if !c.held && c.taken-c.committed < c.window {
			c.taken++
			c.mu.Unlock()
			return true
		}
		progress := c.progress
		c.mu.Unlock()
		c.wake()
		select {
		case <-progress:
		case <-quit:
			return false
		}
	}
}

// tryReserve takes room for one more record in the window if there is
// some, without waiting, and reports whether it did.
func (c *committer) tryReserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held && c.taken-c.committed < c.window {
		c.taken++
		return true
	}
	return false
}

// release gives back the reservation of a record that was not finished.
func (c *committer) release() {
	c.mu.Lock()
	c.taken--
	c.mu.Unlock()
}

// marked counts n reserved records as finished and marked, and asks for
// a commit.
func (c *committer) marked(n int) {
	c.mu.Lock()
	c.finished += int64(n)
	c.mu.Unlock()
	c.wake()
}

// wake asks for a commit.
func (c *committer) wake() {
	select {
	case c.wakeC <- struct{}{}:
	default:
	}
}

// start runs the committer until stop.
func (c *committer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
}

// stop stops the committer and waits for it. A commit under way is let
// finish until ctx ends, then cancelled: a commit cancelled in flight may
// still reach the broker after a later one, on another connection.
func (c *committer) stop(ctx context.Context) {
	c.once.Do(func() { close(c.quit) })
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.cancel()
	<-c.done
}
