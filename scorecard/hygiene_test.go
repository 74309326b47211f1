package scorecard_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
)

// TestHygiene serves calls, one-way messages, errors and a panic on each
// transport, then stops the Service and closes the client: no connection
// to the medium stays open, and once the medium itself is shut down no
// goroutine remains (goleak).
func TestHygiene(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			// The medium lives in a subtest, so that its cleanup has
			// shut it down before goleak looks.
			t.Run("serve", func(t *testing.T) { hygiene(t, tr.start(t)) })
			goleak.VerifyNone(t)
		})
	}
}

func hygiene(t *testing.T, e *env) {
	sent := make(chan struct{}, 1)
	mux := micro.NewMux()
	mux.HandleFunc("clean", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	mux.HandleFunc("clean", "fail", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.NewError(micro.FailedPrecondition, "no")
	})
	mux.HandleFunc("clean", "panic", func(context.Context, []byte) ([]byte, error) { panic("boom") })
	mux.HandleFunc("clean", "oneway", func(context.Context, []byte) ([]byte, error) {
		sent <- struct{}{}
		return nil, nil
	})
	r := run(t, e.server(mux, config{}), 5*time.Second)
	cl := e.client(config{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 10 {
		if resp, err := cl.Call(ctx, "clean", "echo", []byte("x")); err != nil || string(resp) != "x" {
			t.Fatalf("echo: %q, %v", resp, err)
		}
	}
	if _, err := cl.Call(ctx, "clean", "fail", nil); micro.CodeOf(err) != micro.FailedPrecondition {
		t.Errorf("fail: %v", err)
	}
	if _, err := cl.Call(ctx, "clean", "panic", nil); micro.CodeOf(err) != micro.Internal {
		t.Errorf("panic: %v", err)
	}
	if _, err := cl.Call(ctx, "clean", "missing", nil); micro.CodeOf(err) != micro.NotFound {
		t.Errorf("unknown service: %v", err)
	}
	if err := cl.Send(ctx, "clean", "oneway", []byte("m")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	select {
	case <-sent:
	case <-ctx.Done():
		t.Fatal("one-way message not handled")
	}
	t.Logf("%s: %d connections open while serving", e.name, e.conns())

	if err, ok := r.stop(); err != nil || !ok {
		t.Errorf("Run after cancel: %v (returned: %v)", err, ok)
	}
	if err := cl.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !waitFor(10*time.Second, func() bool { return e.conns() <= 0 }) {
		t.Errorf("%d connections open 10s after Stop and Close", e.conns())
	}
}

// TestHygieneAfterAbandonedHandler stops a Service whose handler ignores
// its ctx, so that Stop gives up on it, and closes the client while the
// call waits. Once the handler returns, the server releases everything:
// its connections close within 10 s, and once the medium is shut down no
// goroutine remains.
func TestHygieneAfterAbandonedHandler(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Run("serve", func(t *testing.T) { abandoned(t, tr.start(t)) })
			goleak.VerifyNone(t)
		})
	}
}

func abandoned(t *testing.T, e *env) {
	entered, release := make(chan struct{}), make(chan struct{})
	mux := micro.NewMux()
	mux.HandleFunc("clean", "stubborn", func(context.Context, []byte) ([]byte, error) {
		close(entered)
		<-release // ignores its ctx
		return []byte("late"), nil
	})
	r := run(t, e.server(mux, config{}), 200*time.Millisecond)
	cl := e.client(config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	called := make(chan error, 1)
	go func() {
		_, err := cl.Call(ctx, "clean", "stubborn", nil)
		called <- err
	}()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("handler never ran")
	}
	if err, ok := r.stop(); !ok || err == nil {
		t.Fatalf("Run = %v (returned: %v), want the stop deadline's error", err, ok)
	}
	if err := cl.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if e.name == "inproc" { // an inproc Close does not end calls in flight
		cancel()
	}
	select {
	case err := <-called:
		t.Logf("%s: abandoned call: %v", e.name, err)
	case <-time.After(5 * time.Second):
		t.Error("abandoned call still waits 5s after Stop and Close")
	}
	close(release)
	began := time.Now()
	if !waitFor(10*time.Second, func() bool { return e.conns() <= 0 }) {
		t.Errorf("%d connections open 10s after the abandoned handler returned", e.conns())
	}
	t.Logf("%s: connections closed %v after the abandoned handler returned", e.name, time.Since(began).Round(time.Millisecond))
}
