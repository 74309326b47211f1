package grpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// testCtx returns a context bounded by microtest.Timeout and by the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), microtest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func echoMux() *micro.Mux {
	m := micro.NewMux()
	m.HandleFunc("test", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	return m
}

// rawConn returns a plain gRPC connection to srv, closed at cleanup.
func rawConn(t *testing.T, srv *grpc.Server) *grpclib.ClientConn {
	t.Helper()
	conn, err := grpclib.NewClient(srv.Addr().String(), grpclib.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wantStatus(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("status = %v (%v), want %v", got, err, code)
	}
}

func TestBadNames(t *testing.T) {
	srv, c := serve(t, echoMux())
	raw := microv1.NewMicroClient(rawConn(t, srv))
	for _, r := range []struct{ ns, svc string }{{"", "echo"}, {"test", ""}, {"te.st", "echo"}, {"test", "ec ho"}, {"test", "é"}} {
		_, err := raw.Call(testCtx(t), &microv1.CallRequest{Namespace: r.ns, Service: r.svc})
		wantStatus(t, err, codes.InvalidArgument)
		_, err = c.Call(testCtx(t), r.ns, r.svc, nil)
		testutil.WantCode(t, err, micro.InvalidArgument, "")
	}
}

func TestOversizedRequestFromAnyClient(t *testing.T) {
	const limit = 1 << 10
	srv, _ := serve(t, echoMux(), grpc.WithMaxMessageSize(limit))
	raw := microv1.NewMicroClient(rawConn(t, srv))
	for _, n := range []int{limit + 1, 1 << 20} { // over the payload limit; over gRPC's own limit
		_, err := raw.Call(testCtx(t), &microv1.CallRequest{Namespace: "test", Service: "echo", Data: make([]byte, n)})
		wantStatus(t, err, codes.ResourceExhausted)
	}
	resp, err := raw.Call(testCtx(t), &microv1.CallRequest{Namespace: "test", Service: "echo", Data: make([]byte, limit)})
	if err != nil || len(resp.Data) != limit {
		t.Fatalf("call at the limit after oversized ones = %d bytes, %v", len(resp.GetData()), err)
	}
}

func TestReservedMetadataIsNotAHeader(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("test", "keys", func(ctx context.Context, _ []byte) ([]byte, error) {
		var keys []string
		for k := range micro.RequestInfoFrom(ctx).Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return []byte(strings.Join(keys, ",")), nil
	})
	_, c := serve(t, m)
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{testCtx(t), ""},
		{micro.WithHeader(testCtx(t), "X-A", "1"), "x-a"},
		{metadata.AppendToOutgoingContext(micro.WithHeader(testCtx(t), "x-a", "1"), "x-b", "2", "x-b", "3"), "x-a,x-b"},
	} {
		resp, err := c.Call(tc.ctx, "test", "keys", nil)
		if err != nil || string(resp) != tc.want {
			t.Fatalf("handler saw header keys %q, %v; want %q", resp, err, tc.want)
		}
	}
	// A raw client's metadata of several values arrives joined by commas.
	m2 := micro.NewMux()
	m2.HandleFunc("test", "xb", func(ctx context.Context, _ []byte) ([]byte, error) {
		return []byte(micro.RequestInfoFrom(ctx).Header.Get("x-b")), nil
	})
	srv, _ := serve(t, m2)
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-b", "2", "x-b", "3")
	resp, err := microv1.NewMicroClient(rawConn(t, srv)).Call(ctx, &microv1.CallRequest{Namespace: "test", Service: "xb"})
	if err != nil || string(resp.Data) != "2,3" {
		t.Fatalf("x-b = %q, %v; want %q", resp.GetData(), err, "2,3")
	}
}

func TestReplyHeaderWithError(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("test", "fail", func(ctx context.Context, _ []byte) ([]byte, error) {
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("X-Why", "because")
		return nil, micro.NewError(micro.FailedPrecondition, "no")
	})
	_, c := serve(t, m)
	reply := micro.Header{}
	_, err := c.Call(micro.WithReplyHeader(testCtx(t), reply), "test", "fail", nil)
	testutil.WantCode(t, err, micro.FailedPrecondition, "")
	if reply.Get("x-why") != "because" || len(reply) != 1 {
		t.Fatalf("reply header = %v, want only x-why: because", reply)
	}
}

type ctxKey struct{}

func TestInterceptorsAndValues(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("test", "values", func(ctx context.Context, _ []byte) ([]byte, error) {
		from, _ := ctx.Value(ctxKey{}).(string)
		return []byte(from + "|" + micro.RequestInfoFrom(ctx).Transport), nil
	})
	var methods []string
	intercept := func(ctx context.Context, req any, info *grpclib.UnaryServerInfo, h grpclib.UnaryHandler) (any, error) {
		methods = append(methods, info.FullMethod)
		if r, ok := req.(*microv1.CallRequest); ok && r.Service == "forbidden" {
			return nil, status.Error(codes.PermissionDenied, "not you")
		}
		return h(context.WithValue(ctx, ctxKey{}, "interceptor"), req)
	}
	srv := grpc.NewServer(m, grpc.WithAddress("127.0.0.1:0"),
		grpc.WithServerOptions(grpclib.UnaryInterceptor(intercept)))
	microtest.Serve(t, context.WithValue(context.Background(), ctxKey{}, "start"), srv)
	c := dial(t, srv)
	resp, err := c.Call(testCtx(t), "test", "values", nil)
	if err != nil || string(resp) != "interceptor|grpc" {
		t.Fatalf("Call = %q, %v; want the interceptor's value", resp, err)
	}
	_, err = c.Call(testCtx(t), "test", "forbidden", nil)
	testutil.WantCode(t, err, micro.PermissionDenied, "")
	if want := []string{"/micro.v1.Micro/Call", "/micro.v1.Micro/Call"}; !slices.Equal(methods, want) {
		t.Fatalf("interceptor saw %v, want %v", methods, want)
	}

	// Without an interceptor, the values of Start's ctx reach the handler.
	srv2 := grpc.NewServer(m, grpc.WithAddress("127.0.0.1:0"))
	microtest.Serve(t, context.WithValue(context.Background(), ctxKey{}, "start"), srv2)
	resp, err = dial(t, srv2).Call(testCtx(t), "test", "values", nil)
	if err != nil || string(resp) != "start|grpc" {
		t.Fatalf("Call = %q, %v; want the Start ctx's value", resp, err)
	}
}

func TestHealth(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	m := echoMux()
	m.HandleFunc("test", "block", func(context.Context, []byte) ([]byte, error) {
		close(entered)
		<-release
		return nil, nil
	})
	srv, c := serve(t, m)
	health := healthpb.NewHealthClient(rawConn(t, srv))
	for _, svc := range []string{"", "micro.v1.Micro"} {
		r, err := health.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q = %v, %v; want SERVING", svc, r.GetStatus(), err)
		}
	}
	watchCtx, stopWatch := context.WithCancel(testCtx(t))
	defer stopWatch()
	watch, err := health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch = %v, %v; want SERVING", r.GetStatus(), err)
	}

	called := make(chan error, 1)
	go func() { _, err := c.Call(testCtx(t), "test", "block", nil); called <- err }()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(testCtx(t)) }()
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch during Stop = %v, %v; want NOT_SERVING", r.GetStatus(), err)
	}
	stopWatch() // a watch is a call in flight too: Stop would wait for it
	close(release)
	if err := <-called; err != nil {
		t.Fatalf("in-flight call during Stop: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func reflectedServices(t *testing.T, srv *grpc.Server) []string {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(rawConn(t, srv)).ServerReflectionInfo(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	err = stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if err != nil && err != io.EOF { // on EOF, Recv tells the status

		t.Fatal(err)
	}
	r, err := stream.Recv()
	if status.Code(err) == codes.Unimplemented {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func TestReflection(t *testing.T) {
	srv, _ := serve(t, echoMux())
	want := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection", "micro.v1.Micro"}
	if got := reflectedServices(t, srv); !slices.Equal(got, want) {
		t.Fatalf("reflection lists %v, want %v", got, want)
	}
	off, _ := serve(t, echoMux(), grpc.WithReflection(false))
	if got := reflectedServices(t, off); got != nil {
		t.Fatalf("reflection turned off still lists %v", got)
	}
}

func TestPortTaken(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	srv := grpc.NewServer(echoMux(), grpc.WithAddress(lis.Addr().String()))
	err = micro.NewService("taken").Run(testCtx(t), srv)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "grpc") {
		t.Fatalf("Run = %v, want the transport's address-in-use error", err)
	}
}

func TestListenerAndLifecycle(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(echoMux(), grpc.WithListener(lis))
	if srv.Addr() != nil {
		t.Fatalf("Addr before Start = %v, want nil", srv.Addr())
	}
	microtest.Serve(t, nil, srv)
	if srv.Addr().String() != lis.Addr().String() {
		t.Fatalf("Addr = %v, want the listener's %v", srv.Addr(), lis.Addr())
	}
	if err := srv.Start(testCtx(t)); err == nil {
		t.Fatal("a second Start returned nil")
	}
	if resp, err := dial(t, srv).Call(testCtx(t), "test", "echo", []byte("x")); err != nil || string(resp) != "x" {
		t.Fatalf("Call = %q, %v", resp, err)
	}

	early := grpc.NewServer(echoMux(), grpc.WithAddress("127.0.0.1:0"))
	if err := early.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := early.Start(testCtx(t)); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after Stop = %v, want micro.ErrServerStopped", err)
	}
	select {
	case <-early.Ready():
		t.Fatal("a server stopped before Start became ready")
	default:
	}

	// Stop racing Start: Start returns nil if it began first, else
	// micro.ErrServerStopped; never a listen error or a leak.
	racing := grpc.NewServer(echoMux(), grpc.WithAddress("127.0.0.1:0"))
	started := make(chan error, 1)
	go func() { started <- racing.Start(testCtx(t)) }()
	if err := racing.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop during Start: %v", err)
	}
	if err := <-started; err != nil && !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start with a concurrent Stop = %v, want nil or micro.ErrServerStopped", err)
	}
}

func TestStopUnblocksOnDeadline(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	m := micro.NewMux()
	m.HandleFunc("test", "stubborn", func(context.Context, []byte) ([]byte, error) {
		close(entered)
		<-release // ignores its ctx
		return nil, nil
	})
	srv, c := serve(t, m)
	called := make(chan error, 1)
	go func() { _, err := c.Call(testCtx(t), "test", "stubborn", nil); called <- err }()
	<-entered
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	if err := srv.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want DeadlineExceeded", err)
	}
	close(release) // the abandoned handler returns: its caller gets its reply
	if err := <-called; err != nil {
		t.Fatalf("the caller of an abandoned handler got %v, want its reply", err)
	}
}
