package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

// otlp returns the OTLP/HTTP exporters of traces and metrics, configured by
// the OTEL_EXPORTER_OTLP_* variables; metrics is nil if
// OTEL_METRICS_EXPORTER=none. It is nil in a binary built without them:
// they link gRPC's packages, so they come with the default set of
// transports or the tag otlp (telemetry_otlp.go), and -tags nats stays
// free of gRPC.
var otlp func(ctx context.Context) (traces sdktrace.SpanExporter, metrics sdkmetric.Exporter, err error)

// telemetry is the greeter's OpenTelemetry set-up: off unless
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
// set, which sends traces and metrics there over OTLP/HTTP, or the
// -otel-stdout flag prints traces to stdout. The other standard variables
// apply as the SDK reads them: OTEL_SERVICE_NAME (default: the -name
// flag), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_METRICS_EXPORTER=none, OTEL_PROPAGATORS
// (tracecontext and baggage; the default is both) and OTEL_SDK_DISABLED.
type telemetry struct {
	server []micro.Middleware       // for the Mux; none when off
	client []micro.ClientMiddleware // for the relay's client; none when off
	// shutdown flushes what is buffered, waiting at most 5 s for an OTLP
	// endpoint, and stops the exporters.
	shutdown func() error
}

// startTelemetry sets up the global providers and propagator as the
// environment and stdout say, and returns the middleware using them.
// A binary without OTLP logs that it ignores the endpoint.
func startTelemetry(ctx context.Context, log *slog.Logger, service string, stdout bool) (*telemetry, error) {
	off := &telemetry{shutdown: func() error { return nil }}
	useOTLP := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if useOTLP && otlp == nil {
		log.Warn("OTEL_EXPORTER_OTLP_ENDPOINT ignored: this greeter was built without OTLP (build it with -tags otlp)")
		useOTLP = false
	}
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || !useOTLP && !stdout {
		return off, nil
	}
	if p := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); useOTLP && p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: the greeter speaks http/protobuf only", p)
	}
	prop, err := propagators(os.Getenv("OTEL_PROPAGATORS"))
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}

	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if stdout {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout), stdouttrace.WithPrettyPrint())
		if err != nil {
			return nil, fmt.Errorf("stdout trace exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithSyncer(exp))
	}
	var mp *sdkmetric.MeterProvider
	if useOTLP {
		traces, metrics, err := otlp(ctx)
		if err != nil {
			return nil, err
		}
		topts = append(topts, sdktrace.WithBatcher(traces))
		if metrics != nil {
			mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
			otel.SetMeterProvider(mp)
		}
	}
	tp := sdktrace.NewTracerProvider(topts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	return &telemetry{
		server: []micro.Middleware{otelmicro.Middleware()},
		client: []micro.ClientMiddleware{otelmicro.ClientMiddleware()},
		shutdown: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := tp.Shutdown(ctx)
			if mp != nil {
				err = errors.Join(err, mp.Shutdown(ctx))
			}
			return err
		},
	}, nil
}

// propagators returns the propagator OTEL_PROPAGATORS names.
func propagators(env string) (propagation.TextMapPropagator, error) {
	if env == "" {
		env = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(env, ",") {
		switch strings.TrimSpace(name) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage, none)", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
