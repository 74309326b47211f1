package microtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// blocking registers "block", a handler that reports its entry and returns
// "done" once release is closed, whatever its ctx says.
func (e *env) blocking(entered chan<- struct{}, release <-chan struct{}) func(*micro.Mux) {
	return func(m *micro.Mux) {
		m.HandleFunc(e.ns, "block", func(context.Context, []byte) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return []byte("done"), nil
		})
	}
}

// StopDrains proves that Stop waits for an in-flight Call, which gets its
// reply, and then returns nil.
func StopDrains(t *testing.T, tr Transport) {
	e := setup(t, tr, "StopDrains")
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv, c := e.start(t, e.blocking(entered, release))
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // a failing test must not leave the handler blocked
	type result struct {
		resp []byte
		err  error
	}
	called := make(chan result, 1)
	go func() {
		resp, err := c.Call(ctx(t), e.ns, "block", nil)
		called <- result{resp, err}
	}()
	cx := ctx(t)
	wait(t, entered, Timeout, "handler entered")
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(cx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a handler was in flight", err)
	case <-time.After(200 * time.Millisecond): // Stop must still be waiting
	}
	releaseAll()
	r := <-called
	if r.err != nil || string(r.resp) != "done" {
		t.Fatalf("in-flight call during Stop = %q, %v; want %q", r.resp, r.err, "done")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v after in-flight work finished", err)
	}
}

// StopDeadline proves that Stop gives up at its ctx's deadline and returns
// the ctx's error, cancelling the ctx of the handlers still running, and
// that a second Stop waits for what the first gave up on.
func StopDeadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "StopDeadline")
	entered, release := make(chan struct{}, 2), make(chan struct{})
	sawCancel := make(chan error, 1)
	srv, c := e.start(t, func(m *micro.Mux) {
		e.blocking(entered, release)(m)
		m.HandleFunc(e.ns, "polite", func(ctx context.Context, _ []byte) ([]byte, error) {
			entered <- struct{}{}
			select {
			case <-ctx.Done():
				sawCancel <- ctx.Err()
			case <-release:
				sawCancel <- nil
			}
			return nil, ctx.Err()
		})
	})
	var calls sync.WaitGroup
	for _, svc := range []string{"block", "polite"} {
		calls.Go(func() { _, _ = c.Call(ctx(t), e.ns, svc, nil) })
	}
	defer calls.Wait()
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	defer releaseAll()
	cx := ctx(t)
	for range 2 {
		wait(t, entered, Timeout, "handlers entered")
	}
	stopCtx, cancel := context.WithTimeout(cx, 300*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(stopCtx) }()
	if err := wait(t, stopped, Timeout, "Stop returned at its deadline while a handler ignored its ctx"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v although a handler ignored its ctx past the stop deadline, want its ctx's error", err)
	}
	if err := wait(t, sawCancel, Timeout, "the handler's ctx cancelled when Stop gave up"); err == nil {
		t.Fatal("the handler's ctx was not cancelled when Stop gave up")
	}
	// A second Stop waits for what the first gave up on.
	short, cancelShort := context.WithTimeout(cx, 100*time.Millisecond)
	defer cancelShort()
	if err := srv.Stop(short); err == nil {
		t.Fatal("a second Stop = nil while a handler the first gave up on still runs")
	}
	releaseAll()
	if err := srv.Stop(cx); err != nil {
		t.Fatalf("Stop after the abandoned handler returned = %v, want nil", err)
	}
}

// CallAfterStop proves that a Call after Stop fails with Unavailable, or
// Features.CallAfterStop.
func CallAfterStop(t *testing.T, tr Transport) {
	e := setup(t, tr, "CallAfterStop")
	srv, c := e.start(t, nil)
	if err := srv.Stop(ctx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	cx, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer cancel()
	_, err := c.Call(cx, e.ns, "echo", []byte("x"))
	wantCode(t, err, e.tr.Features.CallAfterStop, "")
}

// StopTwice proves that Stop is idempotent and safe to call concurrently.
func StopTwice(t *testing.T, tr Transport) {
	e := setup(t, tr, "StopTwice")
	srv, _ := e.start(t, nil)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { errs <- srv.Stop(ctx(t)) })
	}
	wg.Wait()
	errs <- srv.Stop(ctx(t))
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
}

// isServerStopped reports whether err is micro.ErrServerStopped.
func isServerStopped(err error) bool { return errors.Is(err, micro.ErrServerStopped) }

// startAgain calls srv.Start on a goroutine and returns its error, or fails
// t if Start does not return within grace (then it stops srv to release
// it).
func startAgain(t *testing.T, srv micro.Server, what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx(t)) }()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	_ = srv.Stop(ctx(t))
	<-done
	t.Fatalf("%s: Start did not return within %v", what, grace)
	return nil
}

// StartAfterStop proves that Start after Stop returns
// micro.ErrServerStopped at once.
func StartAfterStop(t *testing.T, tr Transport) {
	e := setup(t, tr, "StartAfterStop")
	srv, _ := e.start(t, nil)
	if err := srv.Stop(ctx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := startAgain(t, srv, "after Stop"); !isServerStopped(err) {
		t.Fatalf("Start after Stop = %v, want micro.ErrServerStopped", err)
	}
}

// StartTwice proves that Start on a running server returns an error at
// once, and the server keeps serving.
func StartTwice(t *testing.T, tr Transport) {
	e := setup(t, tr, "StartTwice")
	srv, c := e.start(t, nil)
	if err := startAgain(t, srv, "while running"); err == nil {
		t.Fatal("a second Start = nil, want an error")
	}
	if got := string(e.call(t, c, ctx(t), "echo", []byte("x"))); got != "echo:x" {
		t.Fatalf("after a second Start, reply = %q", got)
	}
}
