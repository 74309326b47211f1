package jetstream

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
)

// workerCount returns how many workers the server's consumers have.
func (s *Server) workerCount() int {
	n := 0
	for _, c := range s.consumers {
		c.mu.Lock()
		n += len(c.workers)
		c.mu.Unlock()
	}
	return n
}

// waitFor waits, up to a deadline, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick, timeout := time.NewTicker(10*time.Millisecond), time.After(microtest.Timeout)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C: // the sweep that retires workers gives no signal: poll
		case <-timeout:
			t.Fatalf("after %v: %s", microtest.Timeout, what)
		}
	}
}

// TestIdleWorkersRetired holds n handlers at once: the server has n
// workers, one per message (each handler past inlineFor hands its pull to
// a new head); once they are done and their pull has ended, they are
// gone, and a later message gets a new worker.
func TestIdleWorkersRetired(t *testing.T) {
	const n = 8
	ns := natstest.Start(t, natstest.WithJetStream())
	gate := make(chan struct{})
	entered, handled := make(chan struct{}, n+1), make(chan string, n+1)
	mux := micro.NewMux()
	mux.HandleFunc("w", "hold", func(_ context.Context, req []byte) ([]byte, error) {
		entered <- struct{}{}
		<-gate
		handled <- string(req)
		return nil, nil
	})
	srv := NewServer(mux, WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("wk"),
		WithAckWait(500*time.Millisecond)) // a sweep every 50 ms
	microtest.Serve(t, nil, srv)
	c, err := NewClient(WithURL(ns.URL()), WithPrefix("wk"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		if err := c.Send(t.Context(), "w", "hold", []byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		select {
		case <-entered:
		case <-time.After(microtest.Timeout):
			t.Fatal("handlers did not start")
		}
	}
	if got := srv.workerCount(); got != n {
		t.Fatalf("%d workers hold %d messages; want one each", got, n)
	}
	close(gate)
	seen := map[string]int{}
	for range n {
		select {
		case m := <-handled:
			seen[m]++
		case <-time.After(microtest.Timeout):
			t.Fatal("handlers did not finish")
		}
	}
	if len(seen) != n {
		t.Fatalf("handled %v; want %d distinct messages once each", seen, n)
	}
	waitFor(t, "idle workers not retired", func() bool { return srv.workerCount() == 0 })

	if err := c.Send(t.Context(), "w", "hold", []byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(microtest.Timeout):
		t.Fatal("a message after the workers were retired was not handled")
	}
	if got := srv.workerCount(); got != 1 {
		t.Fatalf("%d workers for one message; want 1", got)
	}
	if m := <-handled; m != "late" {
		t.Fatalf("handled %q; want late", m)
	}
	for m, k := range seen {
		if k != 1 {
			t.Fatalf("%s handled %d times", m, k)
		}
	}
}
