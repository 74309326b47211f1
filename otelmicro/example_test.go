package otelmicro_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// The server middleware goes on the Mux, the client middleware on the
// client; the trace context crosses in the request's headers.
func Example() {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())
	opts := []otelmicro.Option{
		otelmicro.WithTracerProvider(tp),
		otelmicro.WithPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
	}

	mux := micro.NewMux()
	mux.Use(otelmicro.Middleware(opts...))
	mux.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		return []byte("Hello, " + string(req) + "!"), nil
	})
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	client := micro.WrapClient(inproc.NewClient(srv), otelmicro.ClientMiddleware(opts...))
	defer client.Close()
	resp, err := client.Call(context.Background(), "greeter", "hello", []byte("World"))
	fmt.Printf("%s %v\n", resp, err)

	spans := exporter.GetSpans()
	for _, s := range spans {
		fmt.Println(s.SpanKind, s.Name, s.SpanContext.TraceID() == spans[0].SpanContext.TraceID())
	}
	fmt.Println("server's parent is the client:", spans[0].Parent.SpanID() == spans[1].SpanContext.SpanID())
	// Output:
	// Hello, World! <nil>
	// server greeter.hello true
	// client greeter.hello true
	// server's parent is the client: true
}
