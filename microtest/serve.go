package microtest

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// Serve runs srv.Start on its own goroutine and waits until srv is ready; it
// fails t if Start returns first or srv is not ready within Timeout. srv
// must implement micro.Readier. At cleanup it stops srv and fails t unless
// Start then returned nil. ctx is given to Start; nil means
// context.Background().
func Serve(t testing.TB, ctx context.Context, srv micro.Server) {
	t.Helper()
	r, ok := srv.(micro.Readier)
	if !ok {
		t.Fatalf("microtest: %T does not implement micro.Readier", srv)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("microtest: Start returned before ready: %v", err)
	case <-ctx.Done():
		t.Fatalf("microtest: not ready: %v", ctx.Err())
	case <-timeout.C:
		_ = srv.Stop(context.Background())
		t.Fatalf("microtest: not ready within %v", Timeout)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := srv.Stop(stopCtx); err != nil {
			t.Errorf("microtest: Stop: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("microtest: Start returned %v after Stop", err)
			}
		case <-stopCtx.Done():
			t.Errorf("microtest: Start did not return after Stop")
		}
	})
}
