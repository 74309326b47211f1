package bench

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dancinggopher/micro"
	microgrpc "github.com/dancinggopher/micro/transport/grpc"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// BenchmarkCallGRPC compares request-reply over gRPC on loopback, each
// implementation with its own server and plaintext connection:
//
//   - impl=micro: micro's gRPC Client.Call to its Server, echo handler.
//   - impl=raw: the generated grpc-go client of micro.v1.Micro/Call to a
//     hand-written service that returns the request's data.
//   - impl=gokit: go-kit's gRPC transport (client endpoint and server) with a
//     hand-written service description, the same messages and an echo
//     endpoint.
func BenchmarkCallGRPC(b *testing.B) {
	for _, impl := range []string{"micro", "raw", "gokit"} {
		b.Run("transport=grpc/impl="+impl, func(b *testing.B) {
			benchCall(b, grpcCaller(b, impl))
		})
	}
}

// grpcCaller serves the echo work of impl (micro, raw or gokit, as
// BenchmarkCallGRPC describes them) on loopback until the benchmark ends
// and returns its call.
func grpcCaller(b *testing.B, impl string) func(ctx context.Context, req []byte) ([]byte, error) {
	switch impl {
	case "micro":
		mux := micro.NewMux()
		mux.HandleFunc("bench", "echo", echo)
		srv := microgrpc.NewServer(mux, microgrpc.WithAddress("127.0.0.1:0"), microgrpc.WithReflection(false))
		startServer(b, srv, srv.Ready())
		c, err := microgrpc.NewClient(srv.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return func(ctx context.Context, req []byte) ([]byte, error) {
			return c.Call(ctx, "bench", "echo", req)
		}
	case "raw":
		gs := grpclib.NewServer()
		microv1.RegisterMicroServer(gs, rawEcho{})
		client := microv1.NewMicroClient(serveGRPC(b, gs))
		return func(ctx context.Context, req []byte) ([]byte, error) {
			resp, err := client.Call(ctx, &microv1.CallRequest{Namespace: "bench", Service: "echo", Data: req})
			return resp.GetData(), err
		}
	case "gokit":
		gs := grpclib.NewServer()
		gs.RegisterService(&kitEchoDesc, kitEchoServer{kitgrpc.NewServer(
			func(_ context.Context, req any) (any, error) { return req, nil },
			func(_ context.Context, req any) (any, error) { return req.(*microv1.CallRequest).Data, nil },
			func(_ context.Context, resp any) (any, error) { return &microv1.CallResponse{Data: resp.([]byte)}, nil },
		)})
		call := kitgrpc.NewClient(serveGRPC(b, gs), kitEchoDesc.ServiceName, "Call",
			func(_ context.Context, req any) (any, error) {
				return &microv1.CallRequest{Namespace: "bench", Service: "echo", Data: req.([]byte)}, nil
			},
			func(_ context.Context, resp any) (any, error) { return resp.(*microv1.CallResponse).Data, nil },
			microv1.CallResponse{},
		).Endpoint()
		return func(ctx context.Context, req []byte) ([]byte, error) {
			resp, err := call(ctx, req)
			if err != nil {
				return nil, err
			}
			return resp.([]byte), nil
		}
	}
	b.Fatalf("unknown gRPC impl %q", impl)
	return nil
}

// BenchmarkPairedCallGRPC runs micro's gRPC Call and the raw grpc-go
// client's (as in BenchmarkCallGRPC) interleaved in one loop: each
// iteration makes one call of each, in alternating order, and times each.
// Both therefore see the same machine, the same moment and the same load
// (mode=par: 16 goroutines, each alternating, so about 8 calls of each in
// flight). ns/op is the pair; micro-ns/call and raw-ns/call are each
// side's mean latency, and micro/raw their ratio, the figure the target
// checks.
func BenchmarkPairedCallGRPC(b *testing.B) {
	benchPaired(b, "transport=grpc/impl=paired", grpcCaller(b, "micro"), grpcCaller(b, "raw"))
}

// benchPaired runs first (micro) and second (raw) interleaved for each payload size and mode, and
// reports each side's mean latency and their ratio.
func benchPaired(b *testing.B, name string, first, second func(ctx context.Context, req []byte) ([]byte, error)) {
	for _, size := range sizes {
		req := make([]byte, size.n)
		pair := func(ctx context.Context, i int, na, nb *atomic.Int64) error {
			calls := [2]func(context.Context, []byte) ([]byte, error){first, second}
			sums := [2]*atomic.Int64{na, nb}
			for j := range 2 {
				k := (i + j) % 2 // alternate which goes first
				t := time.Now()
				resp, err := calls[k](ctx, req)
				sums[k].Add(int64(time.Since(t)))
				if err != nil {
					return err
				}
				if len(resp) != size.n {
					return fmt.Errorf("reply of %d bytes, want %d", len(resp), size.n)
				}
			}
			return nil
		}
		report := func(b *testing.B, na, nb *atomic.Int64) {
			if b.N > 0 && nb.Load() > 0 {
				b.ReportMetric(float64(na.Load())/float64(b.N), "micro-ns/call")
				b.ReportMetric(float64(nb.Load())/float64(b.N), "raw-ns/call")
				b.ReportMetric(float64(na.Load())/float64(nb.Load()), "micro/raw")
			}
		}
		b.Run(name+"/size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			var na, nb atomic.Int64
			ctx := context.Background()
			for i := range b.N {
				if err := pair(ctx, i, &na, &nb); err != nil {
					b.Fatal(err)
				}
			}
			report(b, &na, &nb)
		})
		b.Run(name+"/size="+size.name+"/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism())
			var na, nb, seq atomic.Int64
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(1))
				for pb.Next() {
					if err := pair(ctx, i, &na, &nb); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			report(b, &na, &nb)
		})
	}
}

// serveGRPC serves gs on a loopback port until the benchmark ends and
// returns a plaintext connection to it.
func serveGRPC(b *testing.B, gs *grpclib.Server) *grpclib.ClientConn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	b.Cleanup(func() { gs.Stop(); <-served })
	conn, err := grpclib.NewClient(lis.Addr().String(), grpclib.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// rawEcho is the hand-written grpc-go service of the raw baseline.
type rawEcho struct {
	microv1.UnimplementedMicroServer
}

func (rawEcho) Call(_ context.Context, req *microv1.CallRequest) (*microv1.CallResponse, error) {
	return &microv1.CallResponse{Data: req.Data}, nil
}

// kitEchoServer serves the go-kit baseline's one method through go-kit.
type kitEchoServer struct{ call *kitgrpc.Server }

func (s kitEchoServer) Call(ctx context.Context, req *microv1.CallRequest) (*microv1.CallResponse, error) {
	_, resp, err := s.call.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*microv1.CallResponse), nil
}

// kitEchoDesc is the hand-written service description of the go-kit
// baseline, as go-kit users write or generate it: one unary method.
var kitEchoDesc = grpclib.ServiceDesc{
	ServiceName: "bench.v1.KitEcho",
	HandlerType: (*interface {
		Call(context.Context, *microv1.CallRequest) (*microv1.CallResponse, error)
	})(nil),
	Methods: []grpclib.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpclib.UnaryServerInterceptor) (any, error) {
			in := new(microv1.CallRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(kitEchoServer).Call(ctx, in)
		},
	}},
	Metadata: "bench/kit_echo",
}
