package grpc_test

import (
	"context"
	"net"
	"testing"

	grpclib "google.golang.org/grpc"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/transport/grpc"
)

func TestClientClosed(t *testing.T) {
	_, c := serve(t, echoMux())
	if _, err := c.Call(testCtx(t), "test", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Call(testCtx(t), "test", "echo", nil)
	testutil.WantCode(t, err, micro.Unavailable, "")
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNoServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	c, err := grpc.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Call(testCtx(t), "test", "echo", nil)
	testutil.WantCode(t, err, micro.Unavailable, "")
	testutil.WantCode(t, c.Send(testCtx(t), "test", "echo", nil), micro.Unavailable, "")
}

// A gRPC server that does not serve micro has no routes: NotFound, not
// Unimplemented.
func TestServerWithoutMicro(t *testing.T) {
	c := dialAddr(t, plainServer(t, grpclib.NewServer()))
	_, err := c.Call(testCtx(t), "test", "echo", nil)
	testutil.WantCode(t, err, micro.NotFound, "")
}

func TestSendReportsErrors(t *testing.T) {
	ran := make(chan string, 1)
	m := micro.NewMux()
	m.HandleFunc("test", "sink", func(_ context.Context, req []byte) ([]byte, error) {
		ran <- string(req)
		return []byte("dropped"), nil
	})
	_, c := serve(t, m)
	if err := c.Send(testCtx(t), "test", "sink", []byte("m")); err != nil {
		t.Fatal(err)
	}
	if got := <-ran; got != "m" { // Send returned after the handler ran
		t.Fatalf("handler got %q", got)
	}
	testutil.WantCode(t, c.Send(testCtx(t), "test", "nope", nil), micro.NotFound, "")
}
