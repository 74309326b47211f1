package bench

import (
	"context"
	"net"
	"testing"

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
	b.Run("transport=grpc/impl=micro", func(b *testing.B) {
		mux := micro.NewMux()
		mux.HandleFunc("bench", "echo", echo)
		srv := microgrpc.NewServer(mux, microgrpc.WithAddress("127.0.0.1:0"), microgrpc.WithReflection(false))
		startServer(b, srv, srv.Ready())
		c, err := microgrpc.NewClient(srv.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		benchCall(b, func(ctx context.Context, req []byte) ([]byte, error) {
			return c.Call(ctx, "bench", "echo", req)
		})
	})
	b.Run("transport=grpc/impl=raw", func(b *testing.B) {
		gs := grpclib.NewServer()
		microv1.RegisterMicroServer(gs, rawEcho{})
		client := microv1.NewMicroClient(serveGRPC(b, gs))
		benchCall(b, func(ctx context.Context, req []byte) ([]byte, error) {
			resp, err := client.Call(ctx, &microv1.CallRequest{Namespace: "bench", Service: "echo", Data: req})
			return resp.GetData(), err
		})
	})
	b.Run("transport=grpc/impl=gokit", func(b *testing.B) {
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
		benchCall(b, func(ctx context.Context, req []byte) ([]byte, error) {
			resp, err := call(ctx, req)
			if err != nil {
				return nil, err
			}
			return resp.([]byte), nil
		})
	})
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
