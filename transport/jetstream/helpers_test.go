package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

// startJS starts a nats-server with JetStream on a file store in the
// test's temporary directory.
func startJS(t testing.TB, opts ...natstest.Option) *natstest.Server {
	t.Helper()
	return natstest.Start(t, append([]natstest.Option{natstest.WithJetStream()}, opts...)...)
}

var prefixes atomic.Int64

// newPrefix returns a subject prefix of its own, so that tests sharing a
// nats-server have streams of their own.
func newPrefix() string { return fmt.Sprintf("t%d", prefixes.Add(1)) }

// serve starts a Server for mux on ns, creating its streams, and returns it.
func serve(t testing.TB, ns *natstest.Server, mux *micro.Mux, opts ...jetstream.ServerOption) *jetstream.Server {
	t.Helper()
	opts = append([]jetstream.ServerOption{jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream()}, opts...)
	srv := jetstream.NewServer(mux, opts...)
	microtest.Serve(t, nil, srv)
	return srv
}

func newClient(t testing.TB, ns *natstest.Server, opts ...jetstream.ClientOption) *jetstream.Client {
	t.Helper()
	c, err := jetstream.NewClient(append([]jetstream.ClientOption{jetstream.WithURL(ns.URL())}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect returns a raw connection and its JetStream context.
func connect(t testing.TB, ns *natstest.Server) (*natsgo.Conn, natsjs.JetStream) {
	t.Helper()
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// within returns a context that ends after d or with the test.
func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumerInfo returns the info of the durable "test" on stream.
func consumerInfo(t testing.TB, js natsjs.JetStream, stream string) *natsjs.ConsumerInfo {
	t.Helper()
	ctx := within(t, 10*time.Second)
	c, err := js.Consumer(ctx, stream, "test")
	if err != nil {
		t.Fatalf("consumer of %s: %v", stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// running starts srv, waits until it is ready and returns a func that
// stops it with a ctx of d and reports what Stop and Start returned.
func running(t testing.TB, srv *jetstream.Server) (stop func(d time.Duration) (stopErr, startErr error)) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Start(context.Background()) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Start: %v", err)
	case <-time.After(microtest.Timeout):
		t.Fatal("server not ready")
	}
	var stopped bool
	stop = func(d time.Duration) (error, error) {
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		stopErr := srv.Stop(ctx)
		select {
		case err := <-done:
			return stopErr, err
		case <-time.After(microtest.Timeout):
			t.Fatal("Start did not return after Stop")
			return stopErr, nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_, _ = stop(microtest.Timeout)
		}
	})
	return stop
}

// tally counts how often each message was handled.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
	unique int
	at     chan struct{} // signalled, without blocking, when unique grows
}

func newTally() *tally {
	return &tally{counts: map[string]int{}, at: make(chan struct{}, 1)}
}

func (c *tally) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[id]++
	c.total++
	if c.counts[id] == 1 {
		c.unique++
		select {
		case c.at <- struct{}{}:
		default:
		}
	}
}

// result returns how many distinct messages were handled and how many
// handlings were repeats.
func (c *tally) result() (unique, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unique, c.total - c.unique
}

// waitUnique waits until n distinct messages were handled.
func (c *tally) waitUnique(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if u, _ := c.result(); u >= n {
			return
		}
		select {
		case <-c.at:
		case <-deadline:
			u, d := c.result()
			t.Fatalf("after %v: %d of %d messages handled (%d duplicates)", timeout, u, n, d)
		}
	}
}

// publishAll publishes n messages with bodies "000000".. to subj, waiting
// for every acknowledgement.
func publishAll(t testing.TB, js natsjs.JetStream, subj string, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.PublishAsync(subj, fmt.Appendf(nil, "%06d", i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%1000 == 999 || i == n-1 { // stay under nats.go's bound of pending publishes
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				t.Fatal("publishes not acknowledged")
			}
		}
	}
}
