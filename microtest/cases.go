package microtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

const ns = "test"

// start builds a Mux with the routes register adds and serves it.
func (s *suite) start(t *testing.T, register func(m *micro.Mux)) (micro.Server, micro.Client) {
	t.Helper()
	m := micro.NewMux()
	m.HandleFunc(ns, "echo", func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("echo:"), req...), nil
	})
	if register != nil {
		register(m)
	}
	return s.tr.New(t, m)
}

// wantCode fails t unless err is an *micro.Error with code and, if msg is
// not empty, that message.
func wantCode(t *testing.T, err error, code micro.Code, msg string) {
	t.Helper()
	var e *micro.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *micro.Error with code %v", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %v (%q), want %v", e.Code, e.Message, code)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message = %q, want %q", e.Message, msg)
	}
}

func mustCall(t *testing.T, c micro.Client, ctx context.Context, service string, req []byte) []byte {
	t.Helper()
	resp, err := c.Call(ctx, ns, service, req)
	if err != nil {
		t.Fatalf("Call %s.%s: %v", ns, service, err)
	}
	return resp
}

func (s *suite) roundTrip(t *testing.T) {
	_, c := s.start(t, nil)
	if got := string(mustCall(t, c, ctx(t), "echo", []byte("hello"))); got != "echo:hello" {
		t.Fatalf("reply = %q, want %q", got, "echo:hello")
	}
}

func (s *suite) emptyRequest(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "len", func(_ context.Context, req []byte) ([]byte, error) {
			return []byte(strconv.Itoa(len(req))), nil
		})
		m.HandleFunc(ns, "nothing", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	})
	if got := string(mustCall(t, c, ctx(t), "len", nil)); got != "0" {
		t.Fatalf("handler saw %q bytes, want 0", got)
	}
	if got := mustCall(t, c, ctx(t), "nothing", []byte("x")); len(got) != 0 {
		t.Fatalf("empty reply arrived as %q", got)
	}
}

func (s *suite) unknownService(t *testing.T) {
	_, c := s.start(t, nil)
	_, err := c.Call(ctx(t), ns, "nope", []byte("x"))
	wantCode(t, err, micro.NotFound, "")
}

func (s *suite) unknownNamespace(t *testing.T) {
	_, c := s.start(t, nil)
	_, err := c.Call(ctx(t), "nope", "echo", []byte("x"))
	wantCode(t, err, s.tr.Features.UnknownNamespace, "")
}

func (s *suite) invalidName(t *testing.T) {
	_, c := s.start(t, nil)
	for _, r := range []micro.Route{{Namespace: "te.st", Service: "echo"}, {Namespace: ns, Service: "ec ho"}, {Namespace: ns, Service: ""}} {
		_, err := c.Call(ctx(t), r.Namespace, r.Service, []byte("x"))
		wantCode(t, err, micro.InvalidArgument, "")
	}
}

func (s *suite) errorCodes(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "fail", func(_ context.Context, req []byte) ([]byte, error) {
			n, err := strconv.Atoi(string(req))
			if err != nil {
				return nil, err
			}
			return nil, micro.Errorf(micro.Code(n), "failed with %d: é", n)
		})
	})
	for code := micro.Canceled; code <= micro.Unauthenticated; code++ {
		_, err := c.Call(ctx(t), ns, "fail", []byte(strconv.Itoa(int(code))))
		wantCode(t, err, code, fmt.Sprintf("failed with %d: é", code))
	}
}

func (s *suite) plainError(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "plain", func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("plain failure")
		})
	})
	_, err := c.Call(ctx(t), ns, "plain", nil)
	wantCode(t, err, micro.Unknown, "plain failure")
}

func (s *suite) headers(t *testing.T) {
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "headers", func(ctx context.Context, _ []byte) ([]byte, error) {
			info := micro.RequestInfoFrom(ctx)
			for k := range info.Header {
				if k != strings.ToLower(k) {
					return nil, micro.Errorf(micro.Internal, "header key %q is not lower-case", k)
				}
			}
			info.ReplyHeader.Set("X-Reply", "r1")
			return []byte(info.Header["x-trace-id"] + "|" + info.Header.Get("Traceparent")), nil
		})
	})
	reply := micro.Header{}
	cx := micro.WithHeader(ctx(t), "X-Trace-Id", "abc")
	cx = micro.WithHeader(cx, "traceparent", traceparent)
	cx = micro.WithReplyHeader(cx, reply)
	if got, want := string(mustCall(t, c, cx, "headers", nil)), "abc|"+traceparent; got != want {
		t.Fatalf("handler saw headers %q, want %q", got, want)
	}
	if s.tr.Features.NoReplyHeaders {
		if len(reply) != 0 {
			t.Fatalf("transport declares NoReplyHeaders but the reply carried %v", reply)
		}
		return
	}
	if got := reply.Get("x-reply"); got != "r1" {
		t.Fatalf("reply header x-reply = %q, want %q (all: %v)", got, "r1", reply)
	}
}

func (s *suite) requestInfo(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "info", func(ctx context.Context, _ []byte) ([]byte, error) {
			i := micro.RequestInfoFrom(ctx)
			return []byte(i.Namespace + "|" + i.Service + "|" + i.Transport), nil
		})
	})
	parts := strings.Split(string(mustCall(t, c, ctx(t), "info", nil)), "|")
	if len(parts) != 3 || parts[0] != ns || parts[1] != "info" || parts[2] == "" {
		t.Fatalf("RequestInfo = %q, want namespace %q, service %q and a transport name", parts, ns, "info")
	}
}

func (s *suite) deadline(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "deadline", func(ctx context.Context, _ []byte) ([]byte, error) {
			d, ok := ctx.Deadline()
			if !ok {
				return []byte("none"), nil
			}
			return []byte(strconv.FormatInt(d.UnixMilli(), 10)), nil
		})
	})
	want := time.Now().Add(15 * time.Second)
	cx, cancel := context.WithDeadline(ctx(t), want)
	defer cancel()
	got := string(mustCall(t, c, cx, "deadline", nil))
	ms, err := strconv.ParseInt(got, 10, 64)
	if err != nil {
		t.Fatalf("handler's ctx has no deadline (%q), want %v", got, want)
	}
	if diff := time.UnixMilli(ms).Sub(want); diff < -time.Second || diff > time.Second {
		t.Fatalf("handler's deadline is %v off the caller's", diff)
	}
}

func (s *suite) expiredDeadline(t *testing.T) {
	var ran atomic.Int32
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "count", func(context.Context, []byte) ([]byte, error) {
			ran.Add(1)
			return nil, nil
		})
	})
	cx, cancel := context.WithDeadline(ctx(t), time.Now().Add(-time.Second))
	defer cancel()
	_, err := c.Call(cx, ns, "count", nil)
	wantCode(t, err, micro.DeadlineExceeded, "")
	mustCall(t, c, ctx(t), "echo", nil) // a later call is served, and nothing ran before it
	if n := ran.Load(); n != 0 {
		t.Fatalf("handler ran %d times for a request past its deadline", n)
	}
}

func (s *suite) panics(t *testing.T) {
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "panic", func(context.Context, []byte) ([]byte, error) { panic("boom") })
	})
	for range 2 {
		_, err := c.Call(ctx(t), ns, "panic", nil)
		wantCode(t, err, micro.Internal, "")
		if strings.Contains(err.Error(), "goroutine") {
			t.Fatalf("panic stack reached the caller: %v", err)
		}
		if got := string(mustCall(t, c, ctx(t), "echo", []byte("after"))); got != "echo:after" {
			t.Fatalf("after a panic, reply = %q", got)
		}
	}
}

func (s *suite) concurrent(t *testing.T) {
	_, c := s.start(t, nil)
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := "req-" + strconv.Itoa(i)
			resp, err := c.Call(ctx(t), ns, "echo", []byte(req))
			if err == nil && string(resp) != "echo:"+req {
				err = fmt.Errorf("call %d: reply %q, want %q", i, resp, "echo:"+req)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// randomBytes returns n incompressible bytes, so that no transport's
// compression hides the size limit.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

func (s *suite) sizeLimit(t *testing.T) {
	max := s.tr.MaxMessageSize
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "raw", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	})
	at := randomBytes(max)
	resp := mustCall(t, c, ctx(t), "raw", at)
	if len(resp) != max || string(resp) != string(at) {
		t.Fatalf("payload of %d bytes (the limit) came back as %d different bytes", max, len(resp))
	}
	_, err := c.Call(ctx(t), ns, "raw", randomBytes(max+1))
	wantCode(t, err, micro.ResourceExhausted, "")
	if got := string(mustCall(t, c, ctx(t), "echo", []byte("x"))); got != "echo:x" {
		t.Fatalf("after an oversized request, reply = %q", got)
	}
}

func (s *suite) replySizeLimit(t *testing.T) {
	max := s.tr.MaxMessageSize
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "big", func(context.Context, []byte) ([]byte, error) { return randomBytes(max + 1), nil })
	})
	_, err := c.Call(ctx(t), ns, "big", nil)
	wantCode(t, err, micro.ResourceExhausted, "")
}

func (s *suite) send(t *testing.T) {
	type msg struct{ body, header string }
	got := make(chan msg, 1)
	_, c := s.start(t, func(m *micro.Mux) {
		m.HandleFunc(ns, "sink", func(ctx context.Context, req []byte) ([]byte, error) {
			got <- msg{string(req), micro.RequestInfoFrom(ctx).Header.Get("x-id")}
			return nil, nil
		})
	})
	cx := ctx(t)
	if err := c.Send(micro.WithHeader(cx, "X-Id", "7"), ns, "sink", []byte("one-way")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	select {
	case m := <-got:
		if m != (msg{"one-way", "7"}) {
			t.Fatalf("handler got %+v, want body %q and header x-id %q", m, "one-way", "7")
		}
	case <-cx.Done():
		t.Fatal("message sent was never handled")
	}
}

// blocking registers a handler that reports its entry and returns "done"
// once release is closed, whatever its ctx says.
func blocking(entered chan<- struct{}, release <-chan struct{}) func(*micro.Mux) {
	return func(m *micro.Mux) {
		m.HandleFunc(ns, "block", func(context.Context, []byte) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return []byte("done"), nil
		})
	}
}

func (s *suite) stopDrains(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv, c := s.start(t, blocking(entered, release))
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // a failing test must not leave the handler blocked
	type result struct {
		resp []byte
		err  error
	}
	called := make(chan result, 1)
	go func() {
		resp, err := c.Call(ctx(t), ns, "block", nil)
		called <- result{resp, err}
	}()
	cx := ctx(t)
	select {
	case <-entered:
	case <-cx.Done():
		t.Fatal("handler never ran")
	}
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

func (s *suite) stopDeadline(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	sawCancel := make(chan error, 1)
	srv, c := s.start(t, func(m *micro.Mux) {
		blocking(entered, release)(m)
		m.HandleFunc(ns, "polite", func(ctx context.Context, _ []byte) ([]byte, error) {
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
		calls.Go(func() { _, _ = c.Call(ctx(t), ns, svc, nil) })
	}
	defer calls.Wait()
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	defer releaseAll()
	cx := ctx(t)
	for range 2 {
		select {
		case <-entered:
		case <-cx.Done():
			t.Fatal("handlers never ran")
		}
	}
	stopCtx, cancel := context.WithTimeout(cx, 300*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(stopCtx) }()
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("Stop = nil although a handler ignored its ctx past the stop deadline")
		}
	case <-cx.Done():
		t.Fatal("Stop did not return at its deadline while a handler ignored its ctx")
	}
	select {
	case err := <-sawCancel:
		if err == nil {
			t.Fatal("the handler's ctx was not cancelled when Stop gave up")
		}
	case <-cx.Done():
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

func (s *suite) callAfterStop(t *testing.T) {
	srv, c := s.start(t, nil)
	if err := srv.Stop(ctx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	cx, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer cancel()
	_, err := c.Call(cx, ns, "echo", []byte("x"))
	wantCode(t, err, s.tr.Features.CallAfterStop, "")
}

func (s *suite) stopTwice(t *testing.T) {
	srv, _ := s.start(t, nil)
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
