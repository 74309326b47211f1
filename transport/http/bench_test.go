package http_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dancinggopher/micro"
)

// The benchmarks compare a micro Call with the same echo done by a plain
// net/http handler and client, each over its own keep-alive loopback
// connections, one caller at a time and 16 at once. Compare them with
//
//	go test -run '^$' -bench 'Call$' -benchmem -benchtime 2000x -count 6 ./transport/http/ > /tmp/http-bench.txt
//	benchstat -col .name -row /size,/callers /tmp/http-bench.txt

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
				if err := callConcurrently(b.N, callers, call, req); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// callConcurrently makes n calls from callers goroutines.
func callConcurrently(n, callers int, call caller, req []byte) error {
	var (
		next int64
		wg   sync.WaitGroup
		errs = make(chan error, callers)
	)
	for range callers {
		wg.Go(func() {
			for atomic.AddInt64(&next, 1) <= int64(n) {
				if resp, err := call(context.Background(), req); err != nil || len(resp) != len(req) {
					errs <- errors.Join(err, errors.New("echo came back wrong"))
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
