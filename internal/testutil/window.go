package testutil

import (
	"sync"
	"sync/atomic"
)

// Window bounds the one-way messages a benchmark has sent but not yet
// seen handled to max. It costs a handler one atomic add and one atomic
// load per message, whether the handlers run on one goroutine or on many,
// so that the window weighs the same on every implementation: a sender
// that finds max messages unhandled waits until at most max/2 are, and only
// then is it woken, by the handler that brought the count down, so a
// sender that outruns the handlers is woken once per max/2 messages, not
// once per message.
type Window struct {
	max, low int64
	n        atomic.Int64 // messages acquired and not yet released
	blocked  atomic.Int32 // senders waiting in Acquire
	mu       sync.Mutex
	cond     sync.Cond // signalled under mu when n drops to low while blocked > 0
}

// NewWindow returns a Window of max messages.
func NewWindow(max int) *Window {
	w := &Window{max: int64(max), low: int64(max / 2)}
	w.cond.L = &w.mu
	return w
}

// Acquire takes a credit, waiting while max are taken.
func (w *Window) Acquire() {
	for {
		if n := w.n.Load(); n < w.max {
			if w.n.CompareAndSwap(n, n+1) {
				return
			}
			continue
		}
		w.mu.Lock()
		// A release that loads blocked before this add has already
		// stored its n, which the load below sees; one that loads it
		// after finds it set and broadcasts under mu, which Wait holds
		// until it waits: no wake-up is lost.
		w.blocked.Add(1)
		for w.n.Load() > w.low {
			w.cond.Wait()
		}
		w.blocked.Add(-1)
		w.mu.Unlock()
	}
}

// Release gives a credit back.
func (w *Window) Release() {
	if w.n.Add(-1) <= w.low && w.blocked.Load() > 0 {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}
