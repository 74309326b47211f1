package scorecard_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// TestOverload offers each transport ten times the load its handlers can
// take, for a bounded time: handlers take 100 ms with at most 8 at once
// (80 calls/s), and calls arrive at 800/s for 2 s, each with a 1 s
// deadline. It checks that no call hangs and each ends with its reply or a
// typed error; that no more handlers run at once than the bound, where the
// transport has one; that excess load is refused fast with
// ResourceExhausted where the transport says so; that the heap and the
// goroutines return to their level before the load; and that the service
// answers normally once the load drops.
//
// It runs the transports one after another, not in parallel, so that the
// heap figures are each transport's own.
func TestOverload(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { overload(t, tr.start(t)) })
	}
}

// overloadPolicy is what each transport does with load over its bound.
var overloadPolicy = map[string]struct {
	bounded bool // handlers in flight never exceed the configured bound
	refuses bool // excess calls get a fast ResourceExhausted
	policy  string
	allowed []micro.Code
}{
	"inproc": {false, false, "no bound: every call runs at once", nil},
	"grpc": {true, false, "MaxConcurrentStreams: excess calls wait on the connection until their deadline",
		[]micro.Code{micro.DeadlineExceeded}},
	"nats": {true, true, "WithConcurrency: excess calls are refused with ResourceExhausted",
		[]micro.Code{micro.ResourceExhausted, micro.DeadlineExceeded}},
	"kafka": {true, false, "WithConcurrency and partitions: excess records wait in their partition until their deadline",
		[]micro.Code{micro.DeadlineExceeded}},
}

func overload(t *testing.T, e *env) {
	const (
		bound    = 8
		work     = 100 * time.Millisecond
		perTick  = 8 // calls every 10 ms: 800/s, ten times bound/work
		tick     = 10 * time.Millisecond
		deadline = time.Second
	)
	duration := 2 * time.Second
	if long() {
		duration = 20 * time.Second
	}
	pol := overloadPolicy[e.name]

	var running, peak atomic.Int64
	mux := micro.NewMux()
	mux.HandleFunc("load", "slow", func(ctx context.Context, req []byte) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-time.After(work): // the work a handler does
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return req, nil
	})
	run(t, e.server(mux, config{concurrency: bound}), 5*time.Second)
	cl := e.client(config{})

	// Warm up: connections, reply topics and group assignment are not load.
	if err := waitOK(cl, 30*time.Second); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	heapBefore, goroutinesBefore := heap(), runtime.NumGoroutine()

	type result struct {
		code    micro.Code
		latency time.Duration
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		maxHeap uint64
		ms      runtime.MemStats
		seq     int
	)
	start := time.Now()
	ticker := time.NewTicker(tick)
	for time.Since(start) < duration {
		<-ticker.C
		for range perTick {
			seq++
			req := []byte(strconv.Itoa(seq))
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				began := time.Now()
				resp, err := cl.Call(ctx, "load", "slow", req)
				r := result{micro.CodeOf(err), time.Since(began)}
				switch {
				case err == nil && string(resp) != string(req):
					t.Errorf("reply %q to %q", resp, req)
				case err != nil:
					if _, ok := errors.AsType[*micro.Error](err); !ok {
						t.Errorf("untyped error %T %v", err, err)
					}
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
		}
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, ms.HeapAlloc)
	}
	ticker.Stop()
	offered := time.Since(start)
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
	case <-time.After(deadline + 5*time.Second):
		t.Fatalf("calls still waiting %v after the load stopped, with a %v deadline", deadline+5*time.Second, deadline)
	}

	codes := map[micro.Code]int{}
	var slowest = map[micro.Code]time.Duration{}
	for _, r := range results {
		codes[r.code]++
		slowest[r.code] = max(slowest[r.code], r.latency)
	}
	t.Logf("%s: %s", e.name, pol.policy)
	t.Logf("%s: %d calls in %v (%.0f/s), capacity %.0f/s; outcomes %v; slowest per code %v; handlers at once: peak %d, bound %d",
		e.name, len(results), offered.Round(time.Millisecond), float64(len(results))/offered.Seconds(),
		float64(bound)/work.Seconds(), codes, slowest, peak.Load(), bound)
	for c := range codes {
		if c != micro.OK && !slices.Contains(pol.allowed, c) {
			t.Errorf("%d calls ended %v; want OK or one of %v", codes[c], c, pol.allowed)
		}
	}
	if pol.bounded && peak.Load() > bound {
		t.Errorf("%d handlers ran at once, over the bound of %d", peak.Load(), bound)
	}
	if pol.refuses {
		if codes[micro.ResourceExhausted] == 0 {
			t.Errorf("no call refused with ResourceExhausted under ten times the load")
		}
		if s := slowest[micro.ResourceExhausted]; s > deadline/2 {
			t.Errorf("a ResourceExhausted took %v, want fast (under %v)", s, deadline/2)
		}
	}
	if codes[micro.OK] == 0 {
		t.Errorf("no call succeeded under load")
	}

	// Recovery: once the load drops, calls succeed again.
	recoverStart := time.Now()
	if err := waitOK(cl, 30*time.Second); err != nil {
		t.Fatalf("no recovery after the load: %v", err)
	}
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cl.Call(ctx, "load", "slow", []byte("after"))
		cancel()
		if err != nil {
			t.Fatalf("call %d after recovery: %v", i, err)
		}
	}
	recovered := time.Since(recoverStart)

	// Resources come back: goroutines and heap as before the load.
	settled := waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= goroutinesBefore+10 })
	goroutinesAfter := runtime.NumGoroutine()
	heapAfter := heap()
	t.Logf("%s: heap %s before, %s peak during, %s after; goroutines %d before, %d after; recovered (21 calls OK) in %v",
		e.name, mib(heapBefore), mib(maxHeap), mib(heapAfter), goroutinesBefore, goroutinesAfter, recovered.Round(time.Millisecond))
	if !settled {
		t.Errorf("%d goroutines 10s after the load, %d before", goroutinesAfter, goroutinesBefore)
	}
	if heapAfter > heapBefore+32<<20 {
		t.Errorf("heap grew from %s to %s across the overload", mib(heapBefore), mib(heapAfter))
	}
	if maxHeap > heapBefore+512<<20 {
		t.Errorf("heap peaked at %s under load, from %s", mib(maxHeap), mib(heapBefore))
	}
}

// waitOK calls until a call succeeds, for at most d.
func waitOK(cl micro.Client, d time.Duration) error {
	var err error
	for end := time.Now().Add(d); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = cl.Call(ctx, "load", "slow", []byte("probe"))
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// heap returns the live heap in bytes after a collection.
func heap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
