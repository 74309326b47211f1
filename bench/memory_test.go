package bench

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	microgrpc "github.com/dancinggopher/micro/transport/grpc"
	microhttp "github.com/dancinggopher/micro/transport/http"
	"github.com/dancinggopher/micro/transport/jetstream"
	microkafka "github.com/dancinggopher/micro/transport/kafka"
)

// inflightCalls is the number of concurrent Calls of BenchmarkMemoryCall;
// BENCH_INFLIGHT overrides it.
var inflightCalls = envInt("BENCH_INFLIGHT", 10000)

// stallFor is how long the number of calls in a handler (or refused) must
// stay the same before BenchmarkMemoryCall takes the transport's bound as
// reached.
const stallFor = time.Second

// BenchmarkMemoryCall starts inflightCalls concurrent Calls of 64 B on each
// transport, to a handler that blocks until all of them are in it, or
// until their number stops growing because the transport's bound was
// reached (a concurrency limit that refuses or holds back the rest); then
// it releases them and waits for every reply. One op is one such wave.
// Besides time/op it reports per call the bytes and objects allocated
// (B/call, allocs/call), the peak of the live heap (peak-heap-B, sampled
// during the wave from runtime/metrics) and its growth over the idle heap
// per concurrent call (heap-B/call), the calls that were in a handler
// at once (inflight), those refused (refused: ResourceExhausted or
// Unavailable), those that got no reply within micro.DefaultCallTimeout
// (timedout: DeadlineExceeded) and the peak number of goroutines.
func BenchmarkMemoryCall(b *testing.B) {
	name := "/impl=micro/size=64B/inflight=" + strconv.Itoa(inflightCalls)
	for _, t := range []string{"inproc", "grpc", "nats", "http", "kafka", "jetstream"} {
		b.Run("transport="+t+name, func(b *testing.B) {
			h := &holder{}
			mux := micro.NewMux()
			mux.HandleFunc("bench", "hold", h.handle)
			call := memoryCaller(b, t, mux)
			req := make([]byte, scaleSize)
			// A first call, not held, so that connections, topics and
			// consumers are up before the wave.
			if _, err := call(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			var w wave
			b.ResetTimer()
			for range b.N {
				w.run(b, h, inflightCalls, func() error { _, err := call(context.Background(), req); return err })
			}
			b.StopTimer()
			w.report(b, inflightCalls)
		})
	}
}

// memoryCaller serves mux over transport t until the benchmark ends and
// returns a Call of its route (bench, hold).
func memoryCaller(b *testing.B, t string, mux *micro.Mux) func(ctx context.Context, req []byte) ([]byte, error) {
	var c micro.Client
	switch t {
	case "inproc":
		c = startInproc(b, mux)
	case "grpc":
		srv := microgrpc.NewServer(mux, microgrpc.WithAddress("127.0.0.1:0"), microgrpc.WithReflection(false))
		startServer(b, srv, srv.Ready())
		cl, err := microgrpc.NewClient(srv.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c = cl
	case "nats":
		c = serveMicroNATS(b, natstest.Start(b), mux)
	case "http":
		srv := microhttp.NewServer(mux, microhttp.WithAddress("127.0.0.1:0"))
		startServer(b, srv, srv.Ready())
		cl, err := microhttp.NewClient(srv.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c = cl
	case "kafka":
		kc := kafkaCluster(b)
		srv := microkafka.NewServer(mux, microkafka.WithBrokers(kc.Addrs()...),
			microkafka.WithGroup("bench"), microkafka.WithCreateTopics(partitions))
		startServer(b, srv, srv.Ready())
		cl, err := microkafka.NewClient(microkafka.WithBrokers(kc.Addrs()...))
		if err != nil {
			b.Fatal(err)
		}
		c = cl
	case "jetstream":
		ns := natstest.Start(b, natstest.WithJetStream())
		srv := jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithCreateStream(), jetstream.WithDurable("bench"))
		startServer(b, srv, srv.Ready())
		cl, err := jetstream.NewClient(jetstream.WithURL(ns.URL()))
		if err != nil {
			b.Fatal(err)
		}
		c = cl
	default:
		b.Fatalf("unknown transport %q", t)
	}
	b.Cleanup(func() { c.Close() })
	return func(ctx context.Context, req []byte) ([]byte, error) { return c.Call(ctx, "bench", "hold", req) }
}

// holder is a handler that, while armed, holds every call until released.
type holder struct {
	release atomic.Pointer[chan struct{}] // nil: not armed
	entered atomic.Int64
}

func (h *holder) handle(ctx context.Context, req []byte) ([]byte, error) {
	if rel := h.release.Load(); rel != nil {
		h.entered.Add(1)
		select {
		case <-*rel:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return req, nil
}

// wave accumulates the figures of BenchmarkMemoryCall's waves.
type wave struct {
	waves                     int
	allocBytes, allocObjects  uint64
	peakHeap, heapGrowth      uint64
	inflight, refused, maxGor int64
	timedOut                  int64
}

// Read by runtime/metrics.
const (
	heapObjects  = "/memory/classes/heap/objects:bytes"
	allocsBytes  = "/gc/heap/allocs:bytes"
	allocsObject = "/gc/heap/allocs:objects"
	goroutines   = "/sched/goroutines:goroutines"
)

func readMetrics() (heap, bytes, objects, gor uint64) {
	s := []metrics.Sample{{Name: heapObjects}, {Name: allocsBytes}, {Name: allocsObject}, {Name: goroutines}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()
}

// run makes n concurrent calls with h armed, releases them once all are in
// the handler or their number stalls, and waits for every call to return.
func (w *wave) run(b *testing.B, h *holder, n int, call func() error) {
	b.StopTimer()
	runtime.GC()
	idle, bytes0, objects0, _ := readMetrics()
	rel := make(chan struct{})
	h.entered.Store(0)
	h.release.Store(&rel)
	b.StartTimer()

	var refused, timedOut atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := call(); err != nil {
				switch micro.CodeOf(err) {
				case micro.ResourceExhausted, micro.Unavailable:
					refused.Add(1)
				case micro.DeadlineExceeded: // no reply within micro.DefaultCallTimeout: counted, not hidden
					if timedOut.Add(1) == 1 {
						b.Logf("first call without a reply: %v", err)
					}
				default:
					b.Error(err)
				}
			}
		})
	}
	peak, gor := uint64(0), uint64(0)
	tick := time.NewTicker(5 * time.Millisecond)
	begin := time.Now()
	last, since := int64(-1), begin
	for {
		heap, _, _, g := readMetrics()
		peak, gor = max(peak, heap), max(gor, g)
		now := h.entered.Load() + refused.Load()
		if now >= int64(n) {
			break
		}
		if now != last || now == 0 { // nothing arrived yet: no bound was reached
			last, since = now, time.Now()
		} else if time.Since(since) >= stallFor {
			break
		}
		if time.Since(begin) >= waitFor {
			b.Fatalf("%d of %d calls in the handler or refused after %v", now, n, waitFor)
		}
		<-tick.C
	}
	tick.Stop()
	in := h.entered.Load()
	h.release.Store(nil)
	close(rel)
	wg.Wait()

	b.StopTimer()
	_, bytes1, objects1, _ := readMetrics()
	w.waves++
	w.allocBytes += bytes1 - bytes0
	w.allocObjects += objects1 - objects0
	w.peakHeap = max(w.peakHeap, peak)
	if peak > idle {
		w.heapGrowth = max(w.heapGrowth, (peak-idle)/uint64(n))
	}
	w.inflight = max(w.inflight, in)
	w.refused = max(w.refused, refused.Load())
	w.timedOut = max(w.timedOut, timedOut.Load())
	w.maxGor = max(w.maxGor, int64(gor))
	b.StartTimer()
}

// report adds the wave's figures to the benchmark's.
func (w *wave) report(b *testing.B, n int) {
	if w.waves == 0 {
		return
	}
	calls := float64(w.waves * n)
	b.ReportMetric(float64(w.allocBytes)/calls, "B/call")
	b.ReportMetric(float64(w.allocObjects)/calls, "allocs/call")
	b.ReportMetric(float64(w.peakHeap), "peak-heap-B")
	b.ReportMetric(float64(w.heapGrowth), "heap-B/call")
	b.ReportMetric(float64(w.inflight), "inflight")
	b.ReportMetric(float64(w.refused), "refused")
	b.ReportMetric(float64(w.timedOut), "timedout")
	b.ReportMetric(float64(w.maxGor), "goroutines")
	b.ReportMetric(calls/b.Elapsed().Seconds(), "calls/s")
}
