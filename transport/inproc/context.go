package inproc

import (
	"context"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
)

// callCtx is a handler's context in one allocation: the caller's deadline
// and cancellation, the server's values, and the RequestInfo. Done merges the
// caller's cancellation with the server giving up at Stop; the merge is built
// only if a handler asks for it, so a call whose handler never selects on
// Done costs no extra allocation or goroutine.
type callCtx struct {
	caller context.Context
	srv    *Server
	req    []byte // the handler's private copy of the request
	info   micro.RequestInfo

	mu       sync.Mutex
	merged   context.Context
	cancel   context.CancelFunc
	stop     func() bool
	finished bool
}

// done is a context that is already cancelled.
var done = func() context.Context { c, cancel := context.WithCancel(context.Background()); cancel(); return c }()

func (c *callCtx) Deadline() (time.Time, bool) { return c.caller.Deadline() }

func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mergedLocked().Done()
}

// AfterFunc lets contexts derived from c by the handler follow its
// cancellation without a goroutine each (see context.AfterFunc).
func (c *callCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return context.AfterFunc(c.mergedLocked(), f)
}

// mergedLocked returns the context that is done when the caller's is or
// the server gives up, building it on first use; c.mu must be held.
func (c *callCtx) mergedLocked() context.Context {
	if c.merged == nil {
		if c.finished {
			return done
		}
		c.merged, c.cancel = context.WithCancel(c.caller)
		c.stop = context.AfterFunc(c.srv.base, c.cancel)
	}
	return c.merged
}

func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.merged != nil:
		return c.merged.Err()
	case c.finished:
		return context.Canceled
	}
	if err := c.caller.Err(); err != nil {
		return err
	}
	return c.srv.base.Err()
}

func (c *callCtx) Value(key any) any {
	if key == micro.InfoKey() {
		return &c.info
	}
	return c.srv.base.Value(key)
}

// finish cancels the context once the handler has returned, as a network
// transport does.
func (c *callCtx) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished = true
	if c.merged != nil {
		c.stop()
		c.cancel()
	}
}
