package otelmicro_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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

// A handler's log lines carry the trace and span of its request.
func ExampleNewLogHandler() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(otelmicro.NewLogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})))

	// In a handler under otelmicro.Middleware, ctx carries the request's
	// span; here one is made up.
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	}))
	log.InfoContext(ctx, "charged", "amount", 42)
	log.Info("no request")
	// Output:
	// level=INFO msg=charged amount=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
	// level=INFO msg="no request"
}
