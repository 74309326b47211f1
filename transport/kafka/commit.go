package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// committer commits the marked offsets in the background, one commit at a
// time, soon after records are handled. It also keeps a window: workers
// handle a record only while fewer than window records are handled (or in
// flight) but not known to be committed, so that a member that dies
// without Stop leaves at most window records to be handled again.
type committer struct {
	cl     *kgo.Client
	log    *slog.Logger
	window int64
	wakeC  chan struct{} // capacity 1: wakes coalesce while a commit runs
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	taken     int64         // records reserved by workers, less those released
	finished  int64         // records finished and marked
	committed int64         // records known committed: finished when a commit began that succeeded
	progress  chan struct{} // closed when committed advances
}

func newCommitter(cl *kgo.Client, log *slog.Logger, window int) *committer {
	return &committer{
		cl: cl, log: log, window: int64(window),
		wakeC: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		progress: make(chan struct{}),
	}
}

// retryCommit is how soon a failed commit is retried while records wait
// for it.
const retryCommit = 50 * time.Millisecond

func (c *committer) run() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.quit
		cancel()
	}()
	for {
		select {
		case <-c.quit:
			return
		case <-c.wakeC:
		}
		c.mu.Lock()
		upTo := c.finished
		c.mu.Unlock()
		// Fails while the group rebalances; the marks stay and are
		// committed by a later commit or on revoke.
		if err := c.cl.CommitMarkedOffsets(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return
			}
			c.log.Debug("kafka: commit", "err", err)
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
		if upTo > c.committed {
			c.committed = upTo
			close(c.progress)
			c.progress = make(chan struct{})
		}
		c.mu.Unlock()
	}
}

// reserve waits until the window has room for one more record and takes
// it, or returns false if quit is closed first.
func (c *committer) reserve(quit <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.taken-c.committed < c.window {
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

// release gives back the reservation of a record that was not finished.
func (c *committer) release() {
	c.mu.Lock()
	c.taken--
	c.mu.Unlock()
}

// marked counts a reserved record as finished and marked, and asks for a
// commit.
func (c *committer) marked() {
	c.mu.Lock()
	c.finished++
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

// stop stops the committer and waits for it.
func (c *committer) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}
