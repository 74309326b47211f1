package transport

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// handlerCtx is a handler's context in one allocation: the server's base
// (values, and its cancellation when Stop gives up), the caller's deadline
// and cancellation, the RequestInfo, and the end of the handler. The
// standard context that merges them all, with its timer, is built only if
// the handler asks for Done (or derives a context that needs it), so a
// handler that never selects on its ctx costs no timer and no goroutine.
type handlerCtx struct {
	base     context.Context
	caller   context.Context // nil if the caller cannot cancel
	deadline time.Time       // zero if none
	info     micro.RequestInfo

	mu       sync.Mutex
	merged   context.Context
	cancel   context.CancelFunc
	stop     func() bool // stops following the caller
	returned bool        // the handler has returned
}

func (c *handlerCtx) Deadline() (time.Time, bool) {
	d, ok := c.base.Deadline()
	if !c.deadline.IsZero() && (!ok || c.deadline.Before(d)) {
		return c.deadline, true
	}
	return d, ok
}

func (c *handlerCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mergedLocked().Done()
}

// AfterFunc lets contexts derived from c follow its cancellation without a
// goroutine each (see context.AfterFunc).
func (c *handlerCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return context.AfterFunc(c.mergedLocked(), f)
}

// mergedLocked returns the context that is done when any source of
// cancellation is, building it on first use; c.mu must be held.
func (c *handlerCtx) mergedLocked() context.Context {
	if c.merged != nil {
		return c.merged
	}
	if c.deadline.IsZero() {
		c.merged, c.cancel = context.WithCancel(c.base)
	} else {
		c.merged, c.cancel = context.WithDeadline(c.base, c.deadline)
	}
	if c.returned {
		c.cancel()
	} else if c.caller != nil {
		c.stop = context.AfterFunc(c.caller, c.followCaller)
	}
	return c.merged
}

// followCaller cancels the handler's context when the caller's ends. A
// caller whose deadline passed is left to the handler's own timer for the
// same deadline, so that the handler sees DeadlineExceeded, not Canceled.
func (c *handlerCtx) followCaller() {
	if d, ok := c.caller.Deadline(); ok && !c.deadline.IsZero() && !c.deadline.After(d) &&
		errors.Is(c.caller.Err(), context.DeadlineExceeded) {
		return
	}
	c.cancel()
}

func (c *handlerCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.merged != nil:
		return c.merged.Err()
	case c.returned:
		return context.Canceled
	}
	if err := c.base.Err(); err != nil {
		return err
	}
	// time.Until reads only the monotonic clock when the deadline carries
	// a monotonic reading (one set in this process), where time.Now reads
	// the wall clock too.
	if !c.deadline.IsZero() && time.Until(c.deadline) <= 0 {
		return context.DeadlineExceeded
	}
	if c.caller != nil {
		return c.caller.Err()
	}
	return nil
}

func (c *handlerCtx) Value(key any) any {
	if key == ctxkey.Info {
		return &c.info
	}
	c.mu.Lock()
	merged := c.merged
	c.mu.Unlock()
	if merged != nil {
		return merged.Value(key)
	}
	return c.base.Value(key)
}

// finish cancels the context once the handler has returned.
func (c *handlerCtx) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.returned = true
	if c.merged != nil {
		if c.stop != nil {
			c.stop()
		}
		c.cancel()
	}
}

// newHandlerCtx returns a new handlerCtx and the body its handler gets:
// nil if body is empty; if copyBody, a copy of body, made in the same
// allocation as the context when it is at most 16 KiB; else body itself.
func newHandlerCtx(body []byte, copyBody bool) (*handlerCtx, []byte) {
	switch n := len(body); {
	case n == 0:
		return new(handlerCtx), nil
	case !copyBody:
		return new(handlerCtx), body
	case n <= 64:
		return withBody[buf64](body)
	case n <= 256:
		return withBody[buf256](body)
	case n <= 1<<10:
		return withBody[buf1k](body)
	case n <= 4<<10:
		return withBody[buf4k](body)
	case n <= 16<<10:
		return withBody[buf16k](body)
	}
	return new(handlerCtx), bytes.Clone(body)
}

// withBody returns a handlerCtx and a copy of body in one allocation; body
// must fit in a B.
func withBody[B any, P interface {
	*B
	bytes() []byte
}](body []byte) (*handlerCtx, []byte) {
	c := new(struct {
		ctx handlerCtx
		buf B // last, so that the collector does not scan it
	})
	buf := P(&c.buf).bytes()[:len(body):len(body)]
	copy(buf, body)
	return &c.ctx, buf
}

// The buffers of withBody, one per size.
type (
	buf64  [64]byte
	buf256 [256]byte
	buf1k  [1 << 10]byte
	buf4k  [4 << 10]byte
	buf16k [16 << 10]byte
)

func (b *buf64) bytes() []byte  { return b[:] }
func (b *buf256) bytes() []byte { return b[:] }
func (b *buf1k) bytes() []byte  { return b[:] }
func (b *buf4k) bytes() []byte  { return b[:] }
func (b *buf16k) bytes() []byte { return b[:] }
