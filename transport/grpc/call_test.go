package grpc_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// Options of one side only are not options of the other: a ServerOption
// given to NewClient does not compile, which this checks by type.
func TestOptionSides(t *testing.T) {
	for name, o := range map[string]any{
		"WithAddress": grpc.WithAddress(":0"), "WithListener": grpc.WithListener(nil),
		"WithReflection": grpc.WithReflection(false), "WithLogger": grpc.WithLogger(nil),
		"WithServerOptions": grpc.WithServerOptions(),
	} {
		if _, ok := o.(grpc.ClientOption); ok {
			t.Errorf("%s is a ClientOption", name)
		}
	}
	if _, ok := any(grpc.WithDialOptions()).(grpc.ServerOption); ok {
		t.Error("WithDialOptions is a ServerOption")
	}
	var _ grpc.Option = grpc.WithTLS(nil)
	var _ grpc.Option = grpc.WithMaxMessageSize(1)
}

// A handler's Unimplemented error stays Unimplemented, whatever its
// message; only a server without micro.v1.Micro makes NotFound.
func TestHandlerUnimplemented(t *testing.T) {
	m := micro.NewMux()
	msgs := []string{"not yet", "unknown service micro.v1.Micro", "unknown method Call for service micro.v1.Micro", ""}
	for i, msg := range msgs {
		m.HandleFunc("test", strconv.Itoa(i), func(context.Context, []byte) ([]byte, error) {
			return nil, micro.NewError(micro.Unimplemented, msg)
		})
	}
	_, c := serve(t, m)
	for i, msg := range msgs {
		_, err := c.Call(testCtx(t), "test", strconv.Itoa(i), nil)
		e := testutil.WantCode(t, err, micro.Unimplemented, "")
		if e.Message != msg {
			t.Fatalf("message = %q, want %q", e.Message, msg)
		}
	}
}

// A foreign server's status code outside 1 to 16 is Unknown, the code in
// front of the message, as on every transport.
func TestForeignCode(t *testing.T) {
	gs := grpclib.NewServer()
	microv1.RegisterMicroServer(gs, foreign{})
	_, err := dialAddr(t, plainServer(t, gs)).Call(testCtx(t), "test", "echo", nil)
	testutil.WantCode(t, err, micro.Unknown, "42: out of range")
}

type foreign struct {
	microv1.UnimplementedMicroServer
}

func (foreign) Call(context.Context, *microv1.CallRequest) (*microv1.CallResponse, error) {
	return nil, status.Error(codes.Code(42), "out of range")
}

// A Call's deadline, the default one included, and its cancellation reach
// the handler, and so do the values of the stream's context.
func TestCallContext(t *testing.T) {
	entered := make(chan context.Context, 1)
	m := micro.NewMux()
	m.HandleFunc("test", "deadline", func(ctx context.Context, _ []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		if _, hasPeer := peer.FromContext(ctx); !ok || !hasPeer {
			return nil, micro.Errorf(micro.Internal, "deadline %v, peer %v", ok, hasPeer)
		}
		return []byte(strconv.FormatInt(int64(time.Until(d)), 10)), nil
	})
	m.HandleFunc("test", "wait", func(ctx context.Context, _ []byte) ([]byte, error) {
		entered <- ctx
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, c := serve(t, m)
	resp, err := c.Call(t.Context(), "test", "deadline", nil)
	if left, _ := strconv.ParseInt(string(resp), 10, 64); err != nil || time.Duration(left) > micro.DefaultCallTimeout || time.Duration(left) < micro.DefaultCallTimeout-microtest.Timeout {
		t.Fatalf("default deadline left %q ns, %v; want about micro.DefaultCallTimeout", resp, err)
	}

	ctx, cancel := context.WithCancel(testCtx(t))
	called := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "test", "wait", nil); called <- err }()
	hctx := <-entered
	cancel()
	<-hctx.Done() // the caller's cancellation reached the handler
	testutil.WantCode(t, <-called, micro.Canceled, "")
}

// Send gives its handler no deadline, even when its ctx has one, and the
// server logs the failure of a one-way message.
func TestSendOneWay(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("test", "sink", func(ctx context.Context, _ []byte) ([]byte, error) {
		if d, ok := ctx.Deadline(); ok {
			return nil, micro.Errorf(micro.Internal, "deadline %v", d)
		}
		return nil, micro.NewError(micro.FailedPrecondition, "one-way failed")
	})
	logged := new(syncBuffer)
	srv := start(t, m, grpc.WithLogger(slog.New(slog.NewTextHandler(logged, nil))))
	err := dial(t, srv).Send(testCtx(t), "test", "sink", nil)
	testutil.WantCode(t, err, micro.FailedPrecondition, "one-way failed")
	if !strings.Contains(logged.String(), "one-way failed") {
		t.Fatalf("one-way failure not logged: %s", logged.String())
	}

	// The mark of a one-way message is micro's own: twice, it is refused.
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "micro-one-way", "1", "micro-one-way", "1")
	_, err = microv1.NewMicroClient(rawConn(t, srv)).Call(ctx, &microv1.CallRequest{Namespace: "test", Service: "sink"})
	wantStatus(t, err, codes.InvalidArgument)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The header content-type (a codec's) crosses both ways, though gRPC's own
// content-type is its framing; a foreign client's gRPC content-type is no
// header.
func TestContentType(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("test", "ct", func(ctx context.Context, _ []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		info.ReplyHeader.Set("Content-Type", "text/plain")
		return []byte(info.Header.Get("content-type")), nil
	})
	srv, c := serve(t, m)
	reply := micro.Header{}
	ctx := micro.WithReplyHeader(micro.WithHeader(testCtx(t), "content-type", "application/json"), reply)
	if resp, err := c.Call(ctx, "test", "ct", nil); err != nil || string(resp) != "application/json" || reply.Get("content-type") != "text/plain" {
		t.Fatalf("Call = %q, %v, reply header %v", resp, err, reply)
	}
	resp, err := microv1.NewMicroClient(rawConn(t, srv)).Call(testCtx(t), &microv1.CallRequest{Namespace: "test", Service: "ct"})
	if err != nil || len(resp.Data) != 0 {
		t.Fatalf("raw Call = %q, %v; want no content-type header", resp.GetData(), err)
	}
}
