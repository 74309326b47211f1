package grpc_test

import (
	"context"
	"net"
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
//	benchstat -col .name -row /size,/mode /tmp/grpc-bench.txt

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}}

// benchCalls runs call sequentially and in parallel for each payload size.
func benchCalls(b *testing.B, call func(ctx context.Context, req []byte) ([]byte, error)) {
	for _, size := range benchSizes {
		req := make([]byte, size.n)
		check := func(resp []byte, err error) {
			if err != nil || len(resp) != size.n {
				b.Fatalf("call = %d bytes, %v", len(resp), err)
			}
		}
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			start := grpc.CPUTime()
			for b.Loop() {
				check(call(b.Context(), req))
			}
			reportCPU(b, start)
		})
		b.Run("size="+size.name+"/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			start := grpc.CPUTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					check(call(context.Background(), req))
				}
			})
			reportCPU(b, start)
		})
	}
}

// reportCPU reports the process's CPU time per call since start, client and
// server together.
func reportCPU(b *testing.B, start time.Duration) {
	if used := grpc.CPUTime() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkCall(b *testing.B) {
	m := micro.NewMux()
	m.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	_, c := serve(b, m)
	benchCalls(b, func(ctx context.Context, req []byte) ([]byte, error) {
		return c.Call(ctx, "bench", "echo", req)
	})
}

// rawEcho is the hand-written grpc-go service of the baseline.
type rawEcho struct {
	microv1.UnimplementedMicroServer
}

func (rawEcho) Call(_ context.Context, req *microv1.CallRequest) (*microv1.CallResponse, error) {
	return &microv1.CallResponse{Data: req.Data}, nil
}

func BenchmarkRawCall(b *testing.B) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpclib.NewServer()
	microv1.RegisterMicroServer(gs, rawEcho{})
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	b.Cleanup(func() { gs.Stop(); <-served })
	conn, err := grpclib.NewClient(lis.Addr().String(), grpclib.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client := microv1.NewMicroClient(conn)
	benchCalls(b, func(ctx context.Context, req []byte) ([]byte, error) {
		resp, err := client.Call(ctx, &microv1.CallRequest{Namespace: "bench", Service: "echo", Data: req})
		return resp.GetData(), err
	})
}
