package grpc_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/grpc"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// The benchmarks compare a micro Call with the same echo done by a
// hand-written grpc-go service through its generated client, each over its
// own plaintext TCP loopback connection. Compare them with
//
//	go test -run '^$' -bench . -benchmem -count 6 ./transport/grpc/ > /tmp/grpc-bench.txt
//	benchstat -filter '.name:(Call OR RawCall)' -col .name -row /size,/mode /tmp/grpc-bench.txt
//	benchstat -filter .name:CallPaired -row /size,/mode /tmp/grpc-bench.txt

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}}

type caller func(ctx context.Context, req []byte) ([]byte, error)

// mustCall calls call with req and fails b unless the echo came back.
func mustCall(b *testing.B, call caller, ctx context.Context, req []byte) {
	if resp, err := call(ctx, req); err != nil || len(resp) != len(req) {
		b.Fatalf("call = %d bytes, %v", len(resp), err)
	}
}

// benchCalls runs call sequentially, from GOMAXPROCS goroutines and from 16
// for each payload size.
func benchCalls(b *testing.B, call caller) {
	for _, size := range benchSizes {
		req := make([]byte, size.n)
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			start := grpc.CPUTime()
			for b.Loop() {
				mustCall(b, call, b.Context(), req)
			}
			reportCPU(b, start)
		})
		par := func(b *testing.B, callers int) {
			b.ReportAllocs()
			if procs := runtime.GOMAXPROCS(0); callers > procs {
				b.SetParallelism((callers + procs - 1) / procs)
			}
			start := grpc.CPUTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mustCall(b, call, context.Background(), req)
				}
			})
			reportCPU(b, start)
		}
		b.Run("size="+size.name+"/mode=par", func(b *testing.B) { par(b, 0) })
		b.Run("size="+size.name+"/mode=par16", func(b *testing.B) { par(b, 16) })
	}
}

// reportCPU reports the process's CPU time per call since start, client and
// server together.
func reportCPU(b *testing.B, start time.Duration) {
	if used := grpc.CPUTime() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkCall(b *testing.B) { benchCalls(b, microCaller(b)) }

func BenchmarkRawCall(b *testing.B) { benchCalls(b, rawCaller(b)) }

// BenchmarkCallPaired makes each iteration one micro call and one raw call,
// in alternating order, and reports the median time of each and micro's
// overhead in percent of raw. Load that comes and goes on the machine then
// hits both alike, which separate benchmarks, run minutes apart, cannot
// promise; medians keep the stalls a busy machine inflicts on a few calls
// from swamping the comparison.
func BenchmarkCallPaired(b *testing.B) {
	impls := [2]caller{microCaller(b), rawCaller(b)}
	for _, size := range benchSizes {
		req := make([]byte, size.n)
		// pair runs both calls, impls[first] first, and appends their times.
		pair := func(ctx context.Context, first int, times *[2][]time.Duration) {
			for i := range 2 {
				impl := (first + i) % 2
				start := time.Now()
				mustCall(b, impls[impl], ctx, req)
				times[impl] = append(times[impl], time.Since(start))
			}
		}
		seq := func(b *testing.B, ctx context.Context) {
			var times [2][]time.Duration
			i := 0
			for b.Loop() {
				pair(ctx, i%2, &times)
				i++
			}
			reportPaired(b, times)
		}
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) { seq(b, b.Context()) })
		// With the caller's deadline on both calls, raw does the work that
		// micro's default deadline (micro.DefaultCallTimeout) gives a call
		// without one: a timer on each side, the grpc-timeout header.
		b.Run("size="+size.name+"/mode=seq-deadline", func(b *testing.B) {
			ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
			defer cancel()
			seq(b, ctx)
		})
		// par runs the pairs from callers goroutines at once (rounded up to
		// a multiple of GOMAXPROCS), or GOMAXPROCS if callers is 0.
		par := func(b *testing.B, callers int) {
			var (
				mu  sync.Mutex
				all [2][]time.Duration
			)
			if procs := runtime.GOMAXPROCS(0); callers > procs {
				b.SetParallelism((callers + procs - 1) / procs)
			}
			b.RunParallel(func(pb *testing.PB) {
				var times [2][]time.Duration
				for i := 0; pb.Next(); i++ {
					pair(context.Background(), i%2, &times)
				}
				mu.Lock()
				defer mu.Unlock()
				for impl := range all {
					all[impl] = append(all[impl], times[impl]...)
				}
			})
			reportPaired(b, all)
		}
		b.Run("size="+size.name+"/mode=par", func(b *testing.B) { par(b, 0) })
		b.Run("size="+size.name+"/mode=par16", func(b *testing.B) { par(b, 16) })
	}
}

// reportPaired reports the median call time of micro and raw and micro's
// overhead over raw in percent.
func reportPaired(b *testing.B, times [2][]time.Duration) {
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	m, r := median(times[0]), median(times[1])
	b.ReportMetric(m, "micro-ns/call")
	b.ReportMetric(r, "raw-ns/call")
	b.ReportMetric(100*(m/r-1), "overhead-%")
}

// microCaller serves an echo route and returns a micro Call of it.
func microCaller(b *testing.B) caller {
	m := micro.NewMux()
	m.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	_, c := serve(b, m)
	return func(ctx context.Context, req []byte) ([]byte, error) {
		return c.Call(ctx, "bench", "echo", req)
	}
}

// rawEcho is the hand-written grpc-go service of the baseline.
type rawEcho struct {
	microv1.UnimplementedMicroServer
}

func (rawEcho) Call(_ context.Context, req *microv1.CallRequest) (*microv1.CallResponse, error) {
	return &microv1.CallResponse{Data: req.Data}, nil
}

// rawCaller serves rawEcho with plain grpc-go and returns a call of it
// through the generated client.
func rawCaller(b *testing.B) caller {
	gs := grpclib.NewServer()
	microv1.RegisterMicroServer(gs, rawEcho{})
	conn, err := grpclib.NewClient(plainServer(b, gs), grpclib.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client := microv1.NewMicroClient(conn)
	return func(ctx context.Context, req []byte) ([]byte, error) {
		resp, err := client.Call(ctx, &microv1.CallRequest{Namespace: "bench", Service: "echo", Data: req})
		return resp.GetData(), err
	}
}
