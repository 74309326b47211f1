package otelmicro_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
	kit "github.com/dancinggopher/micro/transport"
)

// providers are the set-ups a Call is measured with: no middleware; the
// middleware on no-op providers; on the SDK sampling nothing (what a
// service pays for a request its sampler drops); on the SDK sampling
// everything, with spans dropped after End and metrics aggregated.
var providers = []struct {
	name string
	opts func() []otelmicro.Option // nil: no middleware
}{
	{"none", nil},
	{"noop", func() []otelmicro.Option {
		return []otelmicro.Option{otelmicro.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelmicro.WithMeterProvider(metricnoop.NewMeterProvider()), otelmicro.WithPropagator(w3c)}
	}},
	{"unsampled", func() []otelmicro.Option { return sdkOptions(sdktrace.NeverSample()) }},
	{"sampled", func() []otelmicro.Option { return sdkOptions(sdktrace.AlwaysSample()) }},
}

func sdkOptions(s sdktrace.Sampler) []otelmicro.Option {
	return []otelmicro.Option{
		otelmicro.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(s))),
		otelmicro.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))),
		otelmicro.WithPropagator(w3c),
	}
}

// BenchmarkCall measures one Call through the middleware of both sides,
// per transport and provider, beside the same Call without middleware.
//
//	go test -run '^$' -bench Call -benchmem -count 6 ./otelmicro | benchstat -col /otel -
func BenchmarkCall(b *testing.B) {
	for _, tr := range []struct {
		name  string
		serve func(testing.TB, *micro.Mux) micro.Client
	}{{"inproc", serveInproc}, {"grpc", serveGRPC}, {"nats", serveNATS}} {
		for _, p := range providers {
			b.Run("transport="+tr.name+"/otel="+p.name, func(b *testing.B) {
				mux := micro.NewMux()
				var mw []micro.ClientMiddleware
				if p.opts != nil {
					opts := p.opts()
					mux.Use(otelmicro.Middleware(opts...))
					mw = append(mw, otelmicro.ClientMiddleware(opts...))
				}
				mux.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
				c := micro.WrapClient(tr.serve(b, mux), mw...)
				ctx, req := context.Background(), []byte("hello")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Call(ctx, "bench", "echo", req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMiddleware measures the middleware alone: a Call through the
// client and server middleware to a handler, the headers handed over as a
// transport would, without a transport's own cost.
//
//	go test -run '^$' -bench Middleware -benchmem -count 6 ./otelmicro | benchstat -col /otel -
func BenchmarkMiddleware(b *testing.B) {
	for _, p := range providers {
		b.Run("otel="+p.name, func(b *testing.B) {
			var endpoint micro.Endpoint = micro.HandlerFunc(func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
			invoke := micro.Invoker(func(ctx context.Context, c *micro.Call, req []byte) ([]byte, error) {
				h, _ := kit.OutgoingHeader(ctx)
				info := &micro.RequestInfo{Namespace: c.Namespace, Service: c.Service, Transport: "bench", Header: h, ReplyHeader: micro.Header{}}
				return endpoint.Handle(kit.NewContext(context.Background(), info), req)
			})
			if p.opts != nil {
				opts := p.opts()
				endpoint = otelmicro.Middleware(opts...)(endpoint)
				invoke = otelmicro.ClientMiddleware(opts...)(invoke)
			}
			call, ctx, req := &micro.Call{Namespace: "bench", Service: "echo", Transport: "bench"}, context.Background(), []byte("hello")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := invoke(ctx, call, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocs checks that, for a request whose span is not sampled, the
// middleware allocates nothing beyond what the tracer's Start does.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"noop", tracenoop.NewTracerProvider()}, {"unsampled", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))}} {
		opts := []otelmicro.Option{otelmicro.WithTracerProvider(tc.tp), otelmicro.WithMeterProvider(metricnoop.NewMeterProvider()), otelmicro.WithPropagator(w3c)}
		tracer := tc.tp.Tracer("baseline")
		// The options the middleware starts a span with: its kind and the
		// route's attributes, which samplers see.
		startOpts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("micro.namespace", "bench"), attribute.String("micro.service", "echo"),
			attribute.String("micro.transport", "inproc"), attribute.String("rpc.system.name", "micro"),
			attribute.String("rpc.method", "bench.echo"))}
		baseline := testing.AllocsPerRun(1000, func() {
			_, span := tracer.Start(context.Background(), "bench.echo", startOpts...)
			span.End()
		})

		info := &micro.RequestInfo{Namespace: "bench", Service: "echo", Transport: "inproc", ReplyHeader: micro.Header{}}
		ctx := kit.NewContext(context.Background(), info)
		endpoint := otelmicro.Middleware(opts...)(micro.HandlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, nil }))
		endpoint.Handle(ctx, nil) // builds the route's options
		if got := testing.AllocsPerRun(1000, func() { endpoint.Handle(ctx, nil) }); got > baseline {
			t.Errorf("%s: server middleware allocates %v per request, the tracer's Start %v", tc.name, got, baseline)
		}

		// A client also writes the span's context into the request's
		// headers, so that the sampling decision travels: what the
		// propagator allocates, and the one micro.WithHeader per header.
		carrier := propagation.MapCarrier{}
		clientBaseline := testing.AllocsPerRun(1000, func() {
			ctx, span := tracer.Start(context.Background(), "bench.echo", startOpts...)
			w3c.Inject(ctx, carrier)
			for k, v := range carrier {
				ctx = micro.WithHeader(ctx, k, v)
			}
			span.End()
		})
		invoke := otelmicro.ClientMiddleware(opts...)(func(context.Context, *micro.Call, []byte) ([]byte, error) { return nil, nil })
		call := &micro.Call{Namespace: "bench", Service: "echo", Transport: "inproc"}
		invoke(context.Background(), call, nil)
		if got := testing.AllocsPerRun(1000, func() { invoke(context.Background(), call, nil) }); got > clientBaseline {
			t.Errorf("%s: client middleware allocates %v per call, the tracer and propagator %v", tc.name, got, clientBaseline)
		}
		t.Logf("%s: tracer.Start+End allocates %v; with Inject and WithHeader %v", tc.name, baseline, clientBaseline)
	}
}
