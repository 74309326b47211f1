package testutil

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWindow checks that the window never lets more than max
// messages be unhandled and that no sender is left waiting: senders
// acquire and hand messages to handlers, which release them.
func TestWindow(t *testing.T) {
	const max, senders, handlers, each = 8, 4, 3, 20000
	w := NewWindow(max)
	msgs := make(chan struct{}, senders*each)
	var out, peak atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range each {
				w.Acquire()
				if n := out.Add(1); n > peak.Load() {
					peak.Store(n) // racy maximum: enough to see a breach
				}
				msgs <- struct{}{}
			}
		})
	}
	var handled sync.WaitGroup
	for range handlers {
		handled.Go(func() {
			for range msgs {
				out.Add(-1)
				w.Release()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("senders still waiting after a minute, %d credits taken", w.n.Load())
	}
	close(msgs)
	handled.Wait()
	if p := peak.Load(); p > max {
		t.Errorf("%d messages unhandled at once, window %d", p, max)
	}
	if n := w.n.Load(); n != 0 {
		t.Errorf("%d credits taken after every message was handled, want 0", n)
	}
}
