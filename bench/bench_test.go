// Package bench compares micro with the raw client libraries and with the
// frameworks its users would otherwise pick, doing the same echo work in
// one process and one run. Every benchmark is named
//
//	Benchmark<Kind><Transport>/transport=<t>/impl=<i>/size=<s>/mode=<m>
//
// so that benchstat and cmd/benchreport can set the implementations side by
// side. A point of a scale curve has its x axis parameter instead of (or
// after) the mode, callers=<n>, goroutines=<n> or partitions=<n>
// (BenchmarkScale...), and a memory wave inflight=<n> (BenchmarkMemoryCall).
// run.sh runs them all and writes docs/benchmarks.md and its charts.
package bench

import (
	"context"
	"fmt"
	"github.com/dancinggopher/micro/internal/testutil"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleakIgnores...) }

// inFlight is the number of concurrent callers (or senders) of mode=par.
const inFlight = 16

// window bounds the one-way messages sent but not yet handled, the same for
// every implementation, so that no at-most-once transport drops messages
// under a publisher that outruns its consumer. BENCH_WINDOW overrides it.
var window = envInt("BENCH_WINDOW", 512)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// waitFor bounds the wait for the last one-way message to be handled.
const waitFor = 2 * time.Minute

var sizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}}

// parallelism makes b.RunParallel run inFlight goroutines.
func parallelism() int { return (inFlight + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0) }

// reportRate adds msgs/s, the messages handled per second of the timer.
func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

// benchCall runs call for each payload size, sequentially (mode=seq) and
// from inFlight goroutines (mode=par), and checks every reply.
func benchCall(b *testing.B, call func(ctx context.Context, req []byte) ([]byte, error)) {
	for _, size := range sizes {
		req := make([]byte, size.n)
		check := func(resp []byte, err error) error {
			if err != nil {
				return err
			}
			if len(resp) != size.n {
				return fmt.Errorf("reply of %d bytes, want %d", len(resp), size.n)
			}
			return nil
		}
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if err := check(call(ctx, req)); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
		})
		b.Run("size="+size.name+"/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism())
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := check(call(ctx, req)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// sink counts the one-way messages that reached a handler. A benchmark
// arms it for b.N messages, sends them, and waits until all were handled;
// the window of unhandled messages is the same for every implementation.
type sink struct {
	want atomic.Int64
	got  atomic.Int64
	done chan struct{}
	win  *testutil.Window // nil: no window
}

func newSink() *sink { return &sink{win: testutil.NewWindow(window)} }

// arm expects n messages.
func (s *sink) arm(n int) {
	s.got.Store(0)
	s.want.Store(int64(n))
	s.done = make(chan struct{})
}

// acquire blocks while window messages are unhandled.
func (s *sink) acquire() { s.win.Acquire() }

// release gives back the credit of a message that was not sent.
func (s *sink) release() { s.win.Release() }

// handled is called by a handler for each message.
func (s *sink) handled() {
	if s.win != nil {
		s.win.Release()
	}
	if s.got.Add(1) == s.want.Load() {
		close(s.done)
	}
}

// wait blocks until every armed message was handled.
func (s *sink) wait(b *testing.B) {
	select {
	case <-s.done:
	case <-time.After(waitFor):
		b.Fatalf("%d of %d messages handled after %v", s.got.Load(), s.want.Load(), waitFor)
	}
}

// benchSend runs send for each payload size, from one goroutine (mode=seq)
// and from inFlight goroutines (mode=par), and measures until s has seen
// every message handled: the one-way throughput from sender to handler.
func benchSend(b *testing.B, s *sink, send func(ctx context.Context, msg []byte) error) {
	for _, size := range sizes {
		msg := make([]byte, size.n)
		one := func(ctx context.Context) error {
			s.acquire()
			if err := send(ctx, msg); err != nil {
				s.release()
				return err
			}
			return nil
		}
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			s.arm(b.N)
			ctx := context.Background()
			for range b.N {
				if err := one(ctx); err != nil {
					b.Fatal(err)
				}
			}
			s.wait(b)
			reportRate(b)
		})
		b.Run("size="+size.name+"/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism())
			s.arm(b.N)
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := one(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
			s.wait(b)
			reportRate(b)
		})
	}
}

// echo is the handler of every micro benchmark.
func echo(_ context.Context, req []byte) ([]byte, error) { return req, nil }

// goleakIgnores are goroutines of third-party libraries that outlive a
// benchmark by design: Sarama (under watermill-kafka) registers its meters
// with go-metrics, whose package-level arbiter ticks for the process's life.
var goleakIgnores = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
}

// startServer starts srv until the benchmark ends and waits until ready.
func startServer(b *testing.B, srv micro.Server, ready <-chan struct{}) {
	started := make(chan error, 1)
	go func() { started <- srv.Start(context.Background()) }()
	b.Cleanup(func() {
		srv.Stop(context.Background())
		if err := <-started; err != nil {
			b.Error(err)
		}
	})
	select {
	case <-ready:
	case err := <-started:
		b.Fatalf("%v did not start: %v", srv, err)
	}
}

// countingMux returns a Mux whose route (ns, "echo") counts each message on s.
func countingMux(ns string, s *sink) *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc(ns, "echo", func(context.Context, []byte) ([]byte, error) {
		s.handled()
		return nil, nil
	})
	return mux
}
