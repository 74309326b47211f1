package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
)

// The scale curves: throughput and latency against the number of
// concurrent callers (or goroutines, or partitions). Each point is a
// sub-benchmark named .../callers=<n> (goroutines=<n>, partitions=<n>),
// the parameter cmd/benchreport plots on the x axis.

// callers are the points of the curves against concurrent callers.
var callers = []int{1, 4, 16, 64, 256}

// scaleSize is the payload of the scale curves.
const scaleSize = 64

// BenchmarkScaleCallNATS is BenchmarkCallNATS's micro, raw and rawhdr with
// 64 B payloads from 1 to 256 concurrent callers: msgs/s and the p50 and
// p99 latency of a call (p50-ns, p99-ns).
func BenchmarkScaleCallNATS(b *testing.B) {
	ns := natstest.Start(b)
	for _, impl := range []string{"micro", "raw", "rawhdr"} {
		b.Run("transport=nats/impl="+impl, func(b *testing.B) {
			call := natsCaller(b, ns, impl)
			for _, n := range callers {
				b.Run("size=64B/callers="+strconv.Itoa(n), func(b *testing.B) { benchCallers(b, n, call) })
			}
		})
	}
}

// BenchmarkScaleCallGRPC is BenchmarkCallGRPC's micro and raw with 64 B
// payloads from 1 to 256 concurrent callers on one connection each.
func BenchmarkScaleCallGRPC(b *testing.B) {
	for _, impl := range []string{"micro", "raw"} {
		b.Run("transport=grpc/impl="+impl, func(b *testing.B) {
			call := grpcCaller(b, impl)
			for _, n := range callers {
				b.Run("size=64B/callers="+strconv.Itoa(n), func(b *testing.B) { benchCallers(b, n, call) })
			}
		})
	}
}

// BenchmarkScaleCallInproc is micro's inproc Call of an echo handler from
// 1 to 256 goroutines.
func BenchmarkScaleCallInproc(b *testing.B) {
	mux := micro.NewMux()
	mux.HandleFunc("bench", "echo", echo)
	c := startInproc(b, mux)
	b.Run("transport=inproc/impl=micro", func(b *testing.B) {
		for _, n := range callers {
			b.Run("size=64B/goroutines="+strconv.Itoa(n), func(b *testing.B) {
				benchCallers(b, n, func(ctx context.Context, req []byte) ([]byte, error) {
					return c.Call(ctx, "bench", "echo", req)
				})
			})
		}
	})
}

// BenchmarkScaleSendInproc is micro's inproc Send to a counting handler
// from 1 to 256 goroutines, timed until the last message was handled (with
// the window of BenchmarkSendInproc).
func BenchmarkScaleSendInproc(b *testing.B) {
	s := newSink()
	c := startInproc(b, countingMux("bench", s))
	msg := make([]byte, scaleSize)
	b.Run("transport=inproc/impl=micro", func(b *testing.B) {
		for _, n := range callers {
			b.Run("size=64B/goroutines="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				s.arm(b.N)
				var next atomic.Int64
				var wg sync.WaitGroup
				ctx := context.Background()
				for range n {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							s.acquire()
							if err := c.Send(ctx, "bench", "echo", msg); err != nil {
								s.release()
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				s.wait(b)
				reportRate(b)
			})
		}
	})
}

// benchCallers makes b.N calls of 64 B from n goroutines, checks every
// reply, and reports msgs/s and the p50 and p99 latency of one call.
func benchCallers(b *testing.B, n int, call func(ctx context.Context, req []byte) ([]byte, error)) {
	b.ReportAllocs()
	req := make([]byte, scaleSize)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(lat)) {
					return
				}
				t := time.Now()
				resp, err := call(ctx, req)
				lat[i] = time.Since(t)
				if err == nil && len(resp) != len(req) {
					err = fmt.Errorf("reply of %d bytes, want %d", len(resp), len(req))
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b)
	reportLatency(b, lat)
}

// reportLatency reports the p50 and p99 of lat in nanoseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p int) float64 { return float64(lat[min(len(lat)*p/100, len(lat)-1)]) }
	b.ReportMetric(at(50), "p50-ns")
	b.ReportMetric(at(99), "p99-ns")
}
