package http_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// The benchmarks compare a micro Call with the same echo done by a plain
// net/http handler and client, each over its own keep-alive loopback
// connections, one caller at a time and 16 at once. Compare them with
//
//	go test -run '^$' -bench . -benchmem -benchtime 2000x -count 6 ./transport/http/ > /tmp/http-bench.txt
//	benchstat -filter '.name:(Call OR RawCall)' -col .name -row /size,/callers /tmp/http-bench.txt
//	benchstat -filter .name:CallPaired -row /size,/callers /tmp/http-bench.txt
//
// cpu-ns/op is the process's CPU time per call, client and server
// together: on a busy machine it is steadier than sec/op.

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}}

type caller func(ctx context.Context, req []byte) ([]byte, error)

func BenchmarkCall(b *testing.B) { benchCalls(b, microCaller(b)) }

func BenchmarkRawCall(b *testing.B) { benchCalls(b, rawCaller(b)) }

// benchCalls runs call by 1 and by 16 callers for each payload size.
func benchCalls(b *testing.B, call caller) {
	for _, size := range benchSizes {
		req := bytes.Repeat([]byte("x"), size.n)
		for _, callers := range []int{1, 16} {
			b.Run("size="+size.name+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size.n))
				start := cpuTime()
				if err := callConcurrently(b.N, callers, func(i int) error { return echo(call, req) }); err != nil {
					b.Fatal(err)
				}
				if used := cpuTime() - start; used > 0 {
					b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}

// BenchmarkCallPaired makes each iteration one micro call and one raw
// call, in alternating order, and reports the median time of each and
// micro's overhead in percent of raw: load that comes and goes on the
// machine hits both alike, and medians keep a busy machine's stalls of a
// few calls from swamping the comparison.
func BenchmarkCallPaired(b *testing.B) {
	impls := [2]caller{microCaller(b), rawCaller(b)}
	for _, size := range benchSizes {
		req := bytes.Repeat([]byte("x"), size.n)
		for _, callers := range []int{1, 16} {
			b.Run("size="+size.name+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				times := [2][]time.Duration{make([]time.Duration, b.N), make([]time.Duration, b.N)}
				err := callConcurrently(b.N, callers, func(i int) error {
					for j := range 2 {
						impl := (i + j) % 2
						start := time.Now()
						if err := echo(impls[impl], req); err != nil {
							return err
						}
						times[impl][i] = time.Since(start)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				m, r := median(times[0]), median(times[1])
				b.ReportMetric(m, "micro-ns/call")
				b.ReportMetric(r, "raw-ns/call")
				b.ReportMetric(100*(m/r-1), "overhead-%")
			})
		}
	}
}

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2])
}

// echo calls call with req and checks the echo.
func echo(call caller, req []byte) error {
	resp, err := call(context.Background(), req)
	if err == nil && !bytes.Equal(resp, req) {
		err = errors.New("the echo came back wrong")
	}
	return err
}

// callConcurrently runs f for i from 0 to n-1 on callers goroutines, and
// returns the first error.
func callConcurrently(n, callers int, f func(i int) error) error {
	var (
		next int64 = -1
		wg   sync.WaitGroup
		errs = make(chan error, callers)
	)
	for range callers {
		wg.Go(func() {
			for i := atomic.AddInt64(&next, 1); i < int64(n); i = atomic.AddInt64(&next, 1) {
				if err := f(int(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
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

// rawCaller serves the same echo with a plain net/http handler and returns
// a call of it with a plain http.Client, pooled as micro's is.
func rawCaller(b *testing.B) caller {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body))) // as micro does: no chunking
		w.Write(body)
	})}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(lis) }()
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: t}
	b.Cleanup(func() { t.CloseIdleConnections(); hs.Close(); <-served })
	url := "http://" + lis.Addr().String() + "/bench/echo"
	return func(ctx context.Context, req []byte) ([]byte, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(hr)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
}
