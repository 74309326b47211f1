package grpc_test

import (
	"net"
	"testing"

	"go.uber.org/goleak"
	grpclib "google.golang.org/grpc"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

// start starts a Server for mux on a free loopback port, stopped at
// cleanup.
func start(t testing.TB, mux *micro.Mux, opts ...grpc.ServerOption) *grpc.Server {
	t.Helper()
	srv := grpc.NewServer(mux, append([]grpc.ServerOption{grpc.WithAddress("127.0.0.1:0")}, opts...)...)
	microtest.Serve(t, nil, srv)
	return srv
}

// serve starts a Server for mux and returns it with a Client of it; both
// are released at cleanup.
func serve(t testing.TB, mux *micro.Mux, opts ...grpc.ServerOption) (*grpc.Server, *grpc.Client) {
	t.Helper()
	srv := start(t, mux, opts...)
	return srv, dial(t, srv)
}

// dial returns a Client of srv, closed at cleanup.
func dial(t testing.TB, srv *grpc.Server, opts ...grpc.ClientOption) *grpc.Client {
	t.Helper()
	return dialAddr(t, srv.Addr().String(), opts...)
}

// dialAddr returns a Client of addr, closed at cleanup.
func dialAddr(t testing.TB, addr string, opts ...grpc.ClientOption) *grpc.Client {
	t.Helper()
	c, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// plainServer serves gs, a grpc-go server without micro's transport, on a
// free loopback port and returns its address; gs is stopped at cleanup.
func plainServer(t testing.TB, gs *grpclib.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := start(t, mux, grpc.WithMaxMessageSize(testLimit))
			return srv, dial(t, srv, grpc.WithMaxMessageSize(testLimit))
		},
		MaxMessageSize: testLimit,
	})
}

func TestConformanceDefaultLimit(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			return serve(t, mux)
		},
	})
}
