package nats

import (
	"context"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// handlerCtx is a handler's context and RequestInfo in one allocation: the
// values of Start's ctx and its cancellation at Stop, plus the caller's
// deadline. Without a deadline every method is the base's. With one, the
// timer behind Done is made only if the handler asks for Done, so a handler
// that never selects on it costs no timer.
type handlerCtx struct {
	context.Context // the Server's base
	deadline        time.Time
	info            micro.RequestInfo

	mu     sync.Mutex
	merged context.Context
	cancel context.CancelFunc
}

func (c *handlerCtx) Deadline() (time.Time, bool) {
	if c.deadline.IsZero() {
		return c.Context.Deadline()
	}
	return c.deadline, true
}

func (c *handlerCtx) Done() <-chan struct{} {
	if c.deadline.IsZero() {
		return c.Context.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.merged == nil {
		c.merged, c.cancel = context.WithDeadline(c.Context, c.deadline)
	}
	return c.merged.Done()
}

// AfterFunc lets contexts derived from c by the handler follow its
// cancellation without a goroutine each (see context.AfterFunc).
func (c *handlerCtx) AfterFunc(f func()) func() bool {
	if c.deadline.IsZero() {
		return context.AfterFunc(c.Context, f)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.merged == nil {
		c.merged, c.cancel = context.WithDeadline(c.Context, c.deadline)
	}
	return context.AfterFunc(c.merged, f)
}

func (c *handlerCtx) Err() error {
	if c.deadline.IsZero() {
		return c.Context.Err()
	}
	c.mu.Lock()
	merged := c.merged
	c.mu.Unlock()
	switch {
	case merged != nil:
		return merged.Err()
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}

func (c *handlerCtx) Value(key any) any {
	if key == ctxkey.Info {
		return &c.info
	}
	return c.Context.Value(key)
}

// release stops the timer behind Done, once the handler has returned.
func (c *handlerCtx) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}
