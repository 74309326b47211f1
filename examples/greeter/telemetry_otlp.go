//go:build otlp || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func init() {
	otlp = func(ctx context.Context) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
		traces, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		if os.Getenv("OTEL_METRICS_EXPORTER") == "none" {
			return traces, nil, nil
		}
		metrics, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		return traces, metrics, nil
	}
}
