package microtest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// deadlines registers "deadline", whose reply is the Unix ms of its ctx's
// deadline or "none".
func (e *env) deadlines(m *micro.Mux) {
	m.HandleFunc(e.ns, "deadline", func(ctx context.Context, _ []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return []byte("none"), nil
		}
		return []byte(strconv.FormatInt(d.UnixMilli(), 10)), nil
	})
}

// handlerDeadline calls "deadline" with cx and returns the deadline the
// handler saw, failing t if it saw none.
func (e *env) handlerDeadline(t *testing.T, c micro.Client, cx context.Context) time.Time {
	t.Helper()
	got := string(e.call(t, c, cx, "deadline", nil))
	ms, err := strconv.ParseInt(got, 10, 64)
	if err != nil {
		t.Fatalf("handler's ctx has no deadline (%q)", got)
	}
	return time.UnixMilli(ms)
}

// noDeadline returns a context with no deadline that is cancelled after
// Timeout or when the test ends.
func noDeadline(t *testing.T) context.Context {
	c, cancel := context.WithCancel(t.Context())
	stop := time.AfterFunc(Timeout, cancel)
	t.Cleanup(func() { stop.Stop(); cancel() })
	return c
}

// Deadline proves that the caller's deadline reaches the handler's ctx.
func Deadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "Deadline")
	_, c := e.start(t, e.deadlines)
	want := time.Now().Add(15 * time.Second)
	cx, cancel := context.WithDeadline(ctx(t), want)
	defer cancel()
	if diff := e.handlerDeadline(t, c, cx).Sub(want); diff < -time.Second || diff > time.Second {
		t.Fatalf("handler's deadline is %v off the caller's", diff)
	}
}

// LongDeadline proves that a caller's deadline beyond the default call
// timeout wins over it.
func LongDeadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "LongDeadline")
	_, c := e.start(t, e.deadlines)
	want := time.Now().Add(2 * defaultCallTimeout)
	cx, cancel := context.WithDeadline(noDeadline(t), want)
	defer cancel()
	if diff := e.handlerDeadline(t, c, cx).Sub(want); diff < -time.Second || diff > time.Second {
		t.Fatalf("handler's deadline is %v off the caller's", diff)
	}
}

// DefaultDeadline proves that a Call whose ctx has no deadline is bounded
// by the default call timeout of 30 s: the handler sees a deadline 25 to
// 31 s ahead.
func DefaultDeadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "DefaultDeadline")
	_, c := e.start(t, e.deadlines)
	start := time.Now()
	if ahead := e.handlerDeadline(t, c, noDeadline(t)).Sub(start); ahead < defaultCallTimeout-5*time.Second || ahead > defaultCallTimeout+time.Second {
		t.Fatalf("handler's deadline is %v ahead, want %v", ahead.Round(time.Millisecond), defaultCallTimeout)
	}
}

// ExpiredDeadline proves that a Call whose deadline has passed gets
// DeadlineExceeded and its handler does not run.
func ExpiredDeadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "ExpiredDeadline")
	var ran atomic.Int32
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "count", func(context.Context, []byte) ([]byte, error) {
			ran.Add(1)
			return nil, nil
		})
	})
	cx, cancel := context.WithDeadline(ctx(t), time.Now().Add(-time.Second))
	defer cancel()
	_, err := c.Call(cx, e.ns, "count", nil)
	wantCode(t, err, micro.DeadlineExceeded, "")
	e.call(t, c, ctx(t), "echo", nil) // a later call is served, and nothing ran before it
	if n := ran.Load(); n != 0 {
		t.Fatalf("handler ran %d times for a request past its deadline", n)
	}
}

// SendNoDeadline proves that a one-way message carries no deadline: the
// handler's ctx has none although the sender's had one.
func SendNoDeadline(t *testing.T, tr Transport) {
	e := setup(t, tr, "SendNoDeadline")
	got := make(chan string, 1)
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "sink", func(ctx context.Context, _ []byte) ([]byte, error) {
			if d, ok := ctx.Deadline(); ok {
				got <- "a deadline " + time.Until(d).Round(time.Millisecond).String() + " ahead"
			} else {
				got <- "none"
			}
			return nil, nil
		})
	})
	cx, cancel := context.WithTimeout(ctx(t), Timeout/2)
	defer cancel()
	if err := c.Send(cx, e.ns, "sink", []byte("x")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d := wait(t, got, Timeout, "message sent handled"); d != "none" {
		t.Fatalf("a one-way handler's ctx has %s, want none", d)
	}
}

// CancelAfterReturn proves that a handler's ctx is cancelled once the
// handler has returned, on Call and on Send, long before any deadline.
func CancelAfterReturn(t *testing.T, tr Transport) {
	e := setup(t, tr, "CancelAfterReturn")
	ctxs := make(chan context.Context, 2)
	_, c := e.start(t, func(m *micro.Mux) {
		keep := func(ctx context.Context, _ []byte) ([]byte, error) {
			ctxs <- ctx
			return []byte("ok"), nil
		}
		m.HandleFunc(e.ns, "keep", keep)
		m.HandleFunc(e.ns, "sink", keep)
	})
	e.call(t, c, ctx(t), "keep", nil)
	if hctx := wait(t, ctxs, Timeout, "Call handled"); !cancelled(hctx) {
		t.Errorf("the handler's ctx of a Call is not cancelled %v after it returned", grace)
	}
	if err := c.Send(ctx(t), e.ns, "sink", nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if hctx := wait(t, ctxs, Timeout, "message sent handled"); !cancelled(hctx) {
		t.Errorf("the handler's ctx of a Send is not cancelled %v after it returned", grace)
	}
}

// cancelled reports whether ctx is done within grace, with an error.
func cancelled(ctx context.Context) bool {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err() != nil
	case <-timer.C:
		return false
	}
}

// CallerCancel proves that a caller's cancellation (not a deadline) ends
// its Call with Canceled at once and, unless Features.NoCancel, cancels the
// handler's ctx.
func CallerCancel(t *testing.T, tr Transport) {
	e := setup(t, tr, "CallerCancel")
	entered, saw := make(chan struct{}, 1), make(chan error, 1)
	release := make(chan struct{})
	defer close(release)
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "wait", func(ctx context.Context, _ []byte) ([]byte, error) {
			entered <- struct{}{}
			select {
			case <-ctx.Done():
				saw <- ctx.Err()
			case <-release:
			}
			return nil, nil
		})
	})
	cx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	called := make(chan error, 1)
	go func() {
		_, err := c.Call(cx, e.ns, "wait", nil)
		called <- err
	}()
	wait(t, entered, Timeout, "handler entered")
	cancel()
	wantCode(t, wait(t, called, grace, "Call returned after its ctx was cancelled"), micro.Canceled, "")
	if e.tr.Features.NoCancel {
		return
	}
	if err := wait(t, saw, grace, "the caller's cancellation reached the handler"); err == nil {
		t.Fatal("the handler's ctx is done with a nil Err")
	}
}
