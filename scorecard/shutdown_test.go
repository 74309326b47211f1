package scorecard_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// TestShutdownUnderLoad cancels a Service's ctx while 500 calls are in
// flight, their handlers taking 0–2 s, plus one handler that ignores its ctx,
// with a 5 s shutdown timeout. It checks that Run returns within the
// timeout + 1 s despite the stubborn handler; that every call ends with its
// correct reply or a typed *micro.Error, none hanging; that every handler
// that finished had its reply delivered (no reply lost to a connection
// closing early); and that calls made during shutdown get a reply or a
// typed error too.
func TestShutdownUnderLoad(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			shutdownUnderLoad(t, tr.start(t))
		})
	}
}

// outcome is how one call ended.
type outcome struct {
	resp []byte
	err  error
	done chan struct{}
}

func shutdownUnderLoad(t *testing.T, e *env) {
	const shutdown = 5 * time.Second
	n, late := 500, 50
	if long() {
		n, late = 2000, 200
	}
	// Kafka handles one record per partition at a time, so only
	// concurrency records are in a handler at once; the rest wait in
	// their partitions.
	want := n
	if e.name == "kafka" {
		want = 32
	}

	var (
		started   atomic.Int64
		allIn     = make(chan struct{})
		completed = make([]atomic.Bool, n+late)
		startedAt = make([]atomic.Int64, n+late) // Unix ns
		stubborn  = make(chan struct{})
		release   = make(chan struct{})
	)
	mux := micro.NewMux()
	mux.HandleFunc("load", "work", func(ctx context.Context, req []byte) ([]byte, error) {
		i, err := strconv.Atoi(string(req))
		if err != nil {
			return nil, micro.Errorf(micro.InvalidArgument, "bad id %q", req)
		}
		startedAt[i].Store(time.Now().UnixNano())
		if started.Add(1) == int64(want) {
			close(allIn)
		}
		select {
		case <-time.After(workTime(i)): // the work a handler does
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		completed[i].Store(true)
		return []byte("reply-" + strconv.Itoa(i)), nil
	})
	var stubbornOnce sync.Once
	mux.HandleFunc("load", "stubborn", func(context.Context, []byte) ([]byte, error) {
		stubbornOnce.Do(func() { close(stubborn) })
		<-release // ignores its ctx
		return []byte("late"), nil
	})
	t.Cleanup(func() {
		close(release)
		// A server that gave up on the stubborn handler finishes its
		// shutdown when the handler returns (Kafka commits and leaves
		// its group then): wait for its connections to close before the
		// medium goes.
		if !waitFor(15*time.Second, func() bool { return e.conns() <= 0 }) {
			t.Errorf("%d connections open 15s after the stubborn handler returned", e.conns())
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
		}
	})

	var cfg config
	if e.name == "nats" { // past its default bound, NATS refuses at once
		cfg.concurrency = n + late + 1
	}
	r := run(t, e.server(mux, cfg), shutdown)
	cl := e.client(config{})

	// The stubborn call's own deadline ends it on transports where
	// nothing else can (the server's connection is not the caller's).
	stubbornErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdown+3*time.Second)
		defer cancel()
		_, err := cl.Call(ctx, "load", "stubborn", nil)
		stubbornErr <- err
	}()
	select {
	case <-stubborn:
	case <-time.After(30 * time.Second):
		t.Fatal("stubborn handler not called within 30s")
	}

	out := make([]outcome, n+late)
	call := func(i int) {
		o := &out[i]
		o.done = make(chan struct{})
		go func() {
			defer close(o.done)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			o.resp, o.err = cl.Call(ctx, "load", "work", []byte(strconv.Itoa(i)))
		}()
	}
	for i := range n {
		call(i)
	}
	select {
	case <-allIn:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d handlers started within 60s", started.Load(), want)
	}

	type result struct {
		err error
		ok  bool
	}
	stopped := make(chan result, 1)
	stopBegan := time.Now()
	go func() {
		err, ok := r.stop()
		stopped <- result{err, ok}
	}()
	for i := n; i < n+late; i++ {
		call(i)
	}
	res := <-stopped
	if !res.ok {
		t.Fatalf("Run did not return within %v", shutdown+10*time.Second)
	}
	t.Logf("%s: Run returned after %v: %v", e.name, r.elapsed.Round(time.Millisecond), res.err)
	if r.elapsed > shutdown+time.Second {
		t.Errorf("Run returned after %v, want within the shutdown timeout %v + 1s", r.elapsed, shutdown)
	}
	if !errors.Is(res.err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want the stop deadline's error (a handler ignored its ctx)", res.err)
	}

	// Every handler that finished before Run returned must have its reply
	// delivered. (One that finishes later was abandoned by Stop.)
	finished := make([]bool, len(out))
	for i := range out {
		finished[i] = completed[i].Load()
	}
	for i := range out {
		if !finished[i] {
			continue
		}
		select {
		case <-out[i].done:
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d: handler finished but no reply 5s after Run returned", i)
		}
	}
	// Then the client's Close ends what waits for a reply that will not
	// come (Kafka requests left in their topic).
	cl.Close()
	for i := range out {
		select {
		case <-out[i].done:
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d hangs 5s after Run returned and Close", i)
		}
	}
	select {
	case err := <-stubbornErr:
		if _, ok := errors.AsType[*micro.Error](err); !ok {
			t.Errorf("stubborn call: %v, want a *micro.Error", err)
		} else {
			t.Logf("%s: stubborn call: %v", e.name, err)
		}
	case <-time.After(10 * time.Second):
		t.Error("stubborn call still waits past its deadline")
	}

	codes := map[string]int{}
	for i, o := range out {
		what := "in flight"
		if i >= n {
			what = "during shutdown"
		}
		switch err := o.err; {
		case err == nil:
			if want := "reply-" + strconv.Itoa(i); string(o.resp) != want {
				t.Errorf("call %d (%s): reply %q, want %q", i, what, o.resp, want)
			}
			codes[what+": OK"]++
		case finished[i]:
			t.Errorf("call %d (%s): handler finished but the call failed: %v", i, what, err)
		default:
			if _, ok := errors.AsType[*micro.Error](err); !ok {
				t.Errorf("call %d (%s): untyped error %T %v", i, what, err, err)
			}
			codes[fmt.Sprintf("%s: %v", what, micro.CodeOf(err))]++
		}
	}
	t.Logf("%s: outcomes %v", e.name, codes)

	// Stop takes no new work: a handler that starts well after Stop began
	// (2.5 s, more than any handler's work) ran a request Stop should have
	// left alone, and can keep Stop busy past its deadline, which then
	// cancels it.
	var lateStarts, cancelled int
	for i := range out {
		if at := startedAt[i].Load(); at != 0 && time.Unix(0, at).After(stopBegan.Add(2500*time.Millisecond)) {
			lateStarts++
		}
		if micro.CodeOf(out[i].err) == micro.Canceled && startedAt[i].Load() != 0 {
			cancelled++
		}
	}
	if lateStarts > 0 || cancelled > 0 {
		report := t.Errorf
		if bug, ok := knownBugs[e.name+"/stop-starts-new-work"]; ok {
			report = func(format string, args ...any) { t.Logf("known bug ("+bug+"): "+format, args...) }
		}
		report("%d handlers started more than 2.5s after Stop began, %d were cancelled by the stop deadline", lateStarts, cancelled)
	}
}

// workTime spreads the handlers' work over 0–2 s.
func workTime(i int) time.Duration {
	return time.Duration(i*7919%2001) * time.Millisecond
}
