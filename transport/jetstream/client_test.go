package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// TestSendDeduplicates sends one message three times with the same
// WithMsgID, as a caller retrying a Send would, and another without: the
// stream stores the first once, and each is handled once.
func TestSendDeduplicates(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	a := newAttempts()
	mux := micro.NewMux()
	mux.HandleFunc("u", "work", func(_ context.Context, req []byte) ([]byte, error) {
		a.run(string(req))
		return nil, nil
	})
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"),
		jetstream.WithCreateStream(), jetstream.WithPrefix(prefix)))
	c := newClient(t, ns, jetstream.WithPrefix(prefix))
	ctx := jetstream.WithMsgID(t.Context(), "order-7")
	for range 3 {
		if err := c.Send(ctx, "u", "work", []byte("order 7")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send(t.Context(), "u", "work", []byte("last")); err != nil {
		t.Fatal(err)
	}
	for a.of("last") == 0 {
		waitRun(t, a.ch)
	}
	if _, err := stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, ns)
	info, err := js.Stream(within(t, 10*time.Second), prefix+"_u")
	if err != nil {
		t.Fatal(err)
	}
	if n, msgs := a.of("order 7"), info.CachedInfo().State.Msgs; n != 1 || msgs != 2 {
		t.Fatalf("handled %d times, %d messages stored; want 1, 2", n, msgs)
	}
}

// TestStrictOrder fails one message of a sequence once: with
// WithStrictOrder, the messages after it wait for its retry, so they are
// handled in the order they were sent.
func TestStrictOrder(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	a := newAttempts()
	var mu sync.Mutex
	var order []string
	mux := micro.NewMux()
	mux.HandleFunc("o", "work", func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == "000005" && a.run(string(req)) == 1 {
			return nil, micro.NewError(micro.Unavailable, "once")
		}
		mu.Lock()
		order = append(order, string(req))
		mu.Unlock()
		a.run("done")
		return nil, nil
	})
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithStrictOrder(), jetstream.WithRetries(1, 10*time.Millisecond)))
	_, js := connect(t, ns)
	const n = 20
	publishAll(t, js, prefix+".o.work", n)
	for a.of("done") < n {
		waitRun(t, a.ch)
	}
	if _, err := stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, got := range order {
		if want := fmt.Sprintf("%06d", i); got != want {
			t.Fatalf("handled in order %v", order)
		}
	}
}
