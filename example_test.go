package micro_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

func ExampleMux() {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "echo", func(_ context.Context, req []byte) ([]byte, error) {
		return req, nil
	})

	resp, _ := mux.Serve(context.Background(), "greeter", "echo", []byte("hi"))
	fmt.Printf("%s\n", resp)

	_, err := mux.Serve(context.Background(), "greeter", "bye", nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, micro.ErrNotFound))
	// Output:
	// hi
	// NotFound: no service "bye" in namespace "greeter"
	// true
}

func ExampleChain() {
	trace := func(name string) micro.Middleware {
		return func(next micro.Endpoint) micro.Endpoint {
			return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
				fmt.Println("enter", name)
				defer fmt.Println("leave", name)
				return next.Handle(ctx, req)
			})
		}
	}
	handler := micro.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		fmt.Println("handle")
		return nil, nil
	})

	e := micro.Chain(trace("outer"), trace("inner"))(handler)
	_, _ = e.Handle(context.Background(), nil)
	// Output:
	// enter outer
	// enter inner
	// handle
	// leave inner
	// leave outer
}

func ExampleJSON() {
	type HelloRequest struct {
		Name string `json:"name"`
	}
	type HelloReply struct {
		Message string `json:"message"`
	}
	hello := micro.JSON(func(_ context.Context, r HelloRequest) (HelloReply, error) {
		if r.Name == "" {
			return HelloReply{}, micro.NewError(micro.InvalidArgument, "name is required")
		}
		return HelloReply{Message: "Hello, " + r.Name + "!"}, nil
	})

	resp, _ := hello.Handle(context.Background(), []byte(`{"name":"World"}`))
	fmt.Printf("%s\n", resp)
	_, err := hello.Handle(context.Background(), []byte(`{}`))
	fmt.Println(err)
	_, err = hello.Handle(context.Background(), []byte(`{"name":`))
	fmt.Println(micro.CodeOf(err))
	// Output:
	// {"message":"Hello, World!"}
	// InvalidArgument: name is required
	// InvalidArgument
}

func ExampleService_Run() {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "echo", func(_ context.Context, req []byte) ([]byte, error) {
		return req, nil
	})
	srv := inproc.NewServer(mux)
	svc := micro.NewService("greeter")

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, srv) }()
	<-svc.Ready() // every server accepts work

	client := inproc.NewClient(srv)
	defer client.Close()
	resp, err := client.Call(ctx, "greeter", "echo", []byte("hello"))
	fmt.Printf("%s %v\n", resp, err)

	stop() // in a program: signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	fmt.Println(<-done)
	// Output:
	// hello <nil>
	// <nil>
}

func ExampleWithHeader() {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "whoami", func(ctx context.Context, _ []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		info.ReplyHeader.Set("served-by", info.Transport)
		return []byte(info.Header.Get("user")), nil
	})
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	reply := micro.Header{}
	ctx := micro.WithHeader(context.Background(), "User", "ann")
	ctx = micro.WithReplyHeader(ctx, reply)
	resp, _ := inproc.NewClient(srv).Call(ctx, "greeter", "whoami", nil)
	fmt.Printf("%s %s\n", resp, reply.Get("served-by"))
	// Output:
	// ann inproc
}

// Client middleware adds an auth token to every call of one client.
func ExampleWrapClient() {
	mux := micro.NewMux()
	mux.HandleFunc("orders", "get", func(ctx context.Context, _ []byte) ([]byte, error) {
		if micro.RequestInfoFrom(ctx).Header.Get("authorization") != "Bearer s3cret" {
			return nil, micro.NewError(micro.Unauthenticated, "no token")
		}
		return []byte("order 7"), nil
	})
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	auth := func(next micro.Invoker) micro.Invoker {
		return func(ctx context.Context, c *micro.Call, req []byte) ([]byte, error) {
			return next(micro.WithHeader(ctx, "Authorization", "Bearer s3cret"), c, req)
		}
	}
	client := micro.WrapClient(inproc.NewClient(srv), auth)
	resp, err := client.Call(context.Background(), "orders", "get", nil)
	fmt.Printf("%s %v\n", resp, err)
	// Output: order 7 <nil>
}

// Middleware for one route is composition: wrap its endpoint before
// registering it. Mux.Use wraps every route; the route's own middleware
// runs inside it.
func ExampleMux_Handle_perRoute() {
	requireAdmin := func(next micro.Endpoint) micro.Endpoint {
		return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
			if micro.RequestInfoFrom(ctx).Header.Get("role") != "admin" {
				return nil, micro.NewError(micro.PermissionDenied, "admins only")
			}
			return next.Handle(ctx, req)
		})
	}
	mux := micro.NewMux()
	mux.HandleFunc("users", "get", func(context.Context, []byte) ([]byte, error) { return []byte("user 7"), nil })
	mux.Handle("users", "delete", requireAdmin(micro.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		return []byte("deleted"), nil
	})))
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()
	client := inproc.NewClient(srv)

	_, err := client.Call(context.Background(), "users", "delete", nil)
	fmt.Println(err)
	resp, _ := client.Call(micro.WithHeader(context.Background(), "role", "admin"), "users", "delete", nil)
	fmt.Println(string(resp))
	resp, _ = client.Call(context.Background(), "users", "get", nil)
	fmt.Println(string(resp))
	// Output:
	// PermissionDenied: admins only
	// deleted
	// user 7
}

// A typed client: the Stub binds a namespace and a codec, and Invoke infers
// the request and reply types from its arguments.
func ExampleInvoke() {
	type HelloRequest struct{ Name string }
	type HelloReply struct{ Message string }
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.JSON(func(_ context.Context, r HelloRequest) (HelloReply, error) {
		return HelloReply{"Hello, " + r.Name + "!"}, nil
	}))
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	greeter := micro.NewStub(inproc.NewClient(srv), "greeter", micro.JSONCodec)
	var reply HelloReply
	err := micro.Invoke(context.Background(), greeter, "hello", HelloRequest{Name: "World"}, &reply)
	fmt.Println(reply.Message, err)
	// Output: Hello, World! <nil>
}
