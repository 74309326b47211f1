package grpc_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/grpc"
)

// A service served over gRPC and called with the gRPC Client.
func Example() {
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.JSON(func(ctx context.Context, name string) (string, error) {
		if name == "" {
			return "", micro.NewError(micro.InvalidArgument, "name is empty")
		}
		return "hello, " + name + " from " + micro.RequestInfoFrom(ctx).Header.Get("x-caller"), nil
	}))
	srv := grpc.NewServer(mux, grpc.WithAddress("127.0.0.1:0")) // port 0: any free port
	svc := micro.NewService("greeter")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, srv) }()
	select {
	case <-svc.Ready():
	case err := <-ran:
		fmt.Println("run:", err)
		return
	}

	c, err := grpc.NewClient(srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	call := micro.WithHeader(context.Background(), "X-Caller", "example")
	resp, err := c.Call(call, "greeter", "hello", []byte(`"gopher"`))
	fmt.Println(string(resp), err)
	_, err = c.Call(call, "greeter", "hello", []byte(`""`))
	fmt.Println(micro.CodeOf(err), errors.Is(err, micro.ErrInvalidArgument), err)
	_, err = c.Call(call, "greeter", "bye", nil)
	fmt.Println(micro.CodeOf(err))

	stop()
	fmt.Println("stopped:", <-ran)
	// Output:
	// "hello, gopher from example" <nil>
	// InvalidArgument true InvalidArgument: name is empty
	// NotFound
	// stopped: <nil>
}
