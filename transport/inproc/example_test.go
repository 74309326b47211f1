package inproc_test

import (
	"context"
	"fmt"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// A service's tests call it in process, with the semantics of a network
// transport: copied bytes, headers, deadlines and coded errors.
func Example() {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) == 0 {
			return nil, micro.NewError(micro.InvalidArgument, "name is required")
		}
		return []byte("Hello, " + string(req) + "!"), nil
	})
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	client := inproc.NewClient(srv)
	defer client.Close()
	resp, err := client.Call(context.Background(), "greeter", "hello", []byte("World"))
	fmt.Printf("%s %v\n", resp, err)
	_, err = client.Call(context.Background(), "greeter", "hello", nil)
	fmt.Println(micro.CodeOf(err), err)
	// Output:
	// Hello, World! <nil>
	// InvalidArgument InvalidArgument: name is required
}
