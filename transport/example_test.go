package transport_test

import (
	"context"
	"fmt"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// A server transport maps its medium's message to a Request, lets the
// Dispatcher apply micro's rules, and maps the Reply back; the wire codec
// turns the error into the strings a header carries.
func ExampleDispatcher() {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) == 0 {
			return nil, micro.NewError(micro.InvalidArgument, "name is required\n(see the docs)")
		}
		return []byte("Hello, " + string(req) + "!"), nil
	})
	d := &transport.Dispatcher{Mux: mux, Transport: "example"}

	var h transport.HeaderReader
	h.Add("X-Request-Id", "7")
	h.Add("Micro-Service", "ignored: the transport reads its own headers")
	r := d.Serve(context.Background(), &transport.Request{
		Namespace: "greeter", Service: "hello", Header: h.Header(), Body: []byte("World"),
	})
	fmt.Printf("%s %v\n", r.Body, r.Err)

	r = d.Serve(context.Background(), &transport.Request{Namespace: "greeter", Service: "hello"})
	code, msg := transport.WireError(r.Err)
	fmt.Printf("code %s, header value %q\n", code, transport.EscapeValue(msg))
	fmt.Println(transport.ParseError(code, msg))
	// Output:
	// Hello, World! <nil>
	// code 3, header value "name is required%0A(see the docs)"
	// InvalidArgument: name is required
	// (see the docs)
}
