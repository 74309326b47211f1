package transport

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// handlerCtx is a handler's context in one allocation: the server's base
// (values, and its cancellation when Stop gives up), the caller's deadline
// and cancellation, the RequestInfo, and the end of the handler. The
// standard context that merges them all, with its timer, is built only if
// the handler asks for Done (or derives a context that needs it), so a
// handler that never selects on its ctx costs no timer and no goroutine,
// and no lock: the state a request always has is two atomic words, and
// what the merged context needs is allocated with it.
type handlerCtx struct {
	base     context.Context
	caller   context.Context // nil if the caller cannot cancel
	deadline time.Time       // zero if none
	info     micro.RequestInfo

	returned atomic.Bool            // the handler has returned
	merged   atomic.Pointer[merged] // built on first use, then not changed
}

// merged is the standard context of a handlerCtx that was asked for Done.
type merged struct {
	context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	stop     func() bool // stops following the caller
	finished bool        // the handler's ctx was finished: follow no caller
}

func (c *handlerCtx) Deadline() (time.Time, bool) {
	d, ok := c.base.Deadline()
	if !c.deadline.IsZero() && (!ok || c.deadline.Before(d)) {
		return c.deadline, true
	}
	return d, ok
}

func (c *handlerCtx) Done() <-chan struct{} { return c.mergedCtx().Done() }

// AfterFunc lets contexts derived from c follow its cancellation without a
// goroutine each (see context.AfterFunc).
func (c *handlerCtx) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.mergedCtx(), f)
}

// mergedCtx returns the context that is done when any source of
// cancellation is, building it on first use. Of two first uses at once,
// one's context is kept and the other's cancelled unused. finish and
// mergedCtx each write their word (returned, merged) before they read the
// other's, so at least one of them sees both and cancels the context.
func (c *handlerCtx) mergedCtx() *merged {
	if m := c.merged.Load(); m != nil {
		return m
	}
	m := new(merged)
	if c.deadline.IsZero() {
		m.Context, m.cancel = context.WithCancel(c.base)
	} else {
		m.Context, m.cancel = context.WithDeadline(c.base, c.deadline)
	}
	if !c.merged.CompareAndSwap(nil, m) {
		m.cancel()
		return c.merged.Load()
	}
	if c.returned.Load() {
		m.cancel()
	} else if c.caller != nil {
		m.mu.Lock()
		if !m.finished {
			m.stop = context.AfterFunc(c.caller, func() { c.followCaller(m) })
		}
		m.mu.Unlock()
	}
	return m
}

// followCaller cancels the handler's context when the caller's ends. A
// caller whose deadline passed is left to the handler's own timer for the
// same deadline, so that the handler sees DeadlineExceeded, not Canceled.
func (c *handlerCtx) followCaller(m *merged) {
	if d, ok := c.caller.Deadline(); ok && !c.deadline.IsZero() && !c.deadline.After(d) &&
		errors.Is(c.caller.Err(), context.DeadlineExceeded) {
		return
	}
	m.cancel()
}

func (c *handlerCtx) Err() error {
	if m := c.merged.Load(); m != nil {
		return m.Err()
	}
	if c.returned.Load() {
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
	if m := c.merged.Load(); m != nil {
		return m.Value(key)
	}
	return c.base.Value(key)
}

// finish cancels the context once the handler has returned.
func (c *handlerCtx) finish() {
	c.returned.Store(true)
	if m := c.merged.Load(); m != nil {
		m.mu.Lock()
		m.finished = true
		if m.stop != nil {
			m.stop()
		}
		m.mu.Unlock()
		m.cancel()
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
