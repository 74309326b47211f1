package protocodec_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/protocodec"
	"github.com/dancinggopher/micro/transport/inproc"
)

func hello(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String("Hello, " + name.GetValue() + "!"), nil
}

func start(t testing.TB) micro.Client {
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.Typed(protocodec.Codec, hello))
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	t.Cleanup(func() { srv.Stop(context.Background()) })
	<-srv.Ready()
	return inproc.NewClient(srv)
}

func TestRoundTrip(t *testing.T) {
	c := start(t)
	stub := micro.NewStub(c, "greeter", protocodec.Codec)
	var reply *wrapperspb.StringValue
	if err := micro.Invoke(t.Context(), stub, "hello", wrapperspb.String("World"), &reply); err != nil || reply.GetValue() != "Hello, World!" {
		t.Fatalf("Invoke = %v, %v", reply, err)
	}
	// A JSON body is refused by its content type, before decoding.
	if err := micro.Invoke(t.Context(), micro.NewStub(c, "greeter", nil), "hello", "World", new(string)); micro.CodeOf(err) != micro.InvalidArgument {
		t.Fatalf("a JSON request to a proto endpoint = %v, want InvalidArgument", err)
	}
	// A body that is not protobuf is InvalidArgument with the decoder's message.
	if _, err := c.Call(t.Context(), "greeter", "hello", []byte{0xff, 0xff}); micro.CodeOf(err) != micro.InvalidArgument {
		t.Fatalf("garbage = %v, want InvalidArgument", err)
	}
	if _, err := protocodec.Codec.Marshal("not a message"); err == nil {
		t.Fatal("Marshal of a string succeeded")
	}
}

func Example() {
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.Typed(protocodec.Codec, hello))
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	greeter := micro.NewStub(inproc.NewClient(srv), "greeter", protocodec.Codec)
	var reply *wrapperspb.StringValue
	err := micro.Invoke(context.Background(), greeter, "hello", wrapperspb.String("World"), &reply)
	fmt.Println(reply.GetValue(), err)
	// Output: Hello, World! <nil>
}
