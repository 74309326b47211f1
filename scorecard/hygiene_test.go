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
