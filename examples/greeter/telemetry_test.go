package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// TestTelemetryOffByDefault checks that without OTEL_* configuration or
// -otel-stdout the greeter installs no middleware.
func TestTelemetryOffByDefault(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tel, err := startTelemetry(t.Context(), slog.New(slog.DiscardHandler), "greeter", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tel.server) != 0 || len(tel.client) != 0 {
		t.Errorf("middleware installed with telemetry off: %d server, %d client", len(tel.server), len(tel.client))
	}
	if err := tel.shutdown(); err != nil {
		t.Error(err)
	}
}

// TestTelemetryOTLP checks that OTEL_EXPORTER_OTLP_ENDPOINT sends the
// traces and metrics of a relayed call there over OTLP/HTTP.
func TestTelemetryOTLP(t *testing.T) {
	var mu sync.Mutex
	posts := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		posts[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
		otel.SetTextMapPropagator(prop)
	})
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "greeter-test")

	tel, err := startTelemetry(t.Context(), slog.New(slog.DiscardHandler), "greeter", false)
	if err != nil {
		t.Fatal(err)
	}
	mux := micro.NewMux()
	mux.Use(tel.server...)
	register(mux)
	local := relay(mux, slog.New(slog.DiscardHandler), tel.client...)
	go local.Start(context.Background())
	defer local.Stop(context.Background())
	<-local.(*inproc.Server).Ready()

	front := inproc.NewServer(mux)
	go front.Start(context.Background())
	defer front.Stop(context.Background())
	<-front.Ready()
	resp, err := inproc.NewClient(front).Call(t.Context(), "greeter", "relay", []byte(`{"name":"OTLP"}`))
	if err != nil || string(resp) != `{"message":"Hello, OTLP!"}` {
		t.Fatalf("greeter.relay = %q, %v", resp, err)
	}
	if err := tel.shutdown(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts["POST /v1/traces"] == 0 || posts["POST /v1/metrics"] == 0 {
		t.Errorf("collector got %v; want traces and metrics posted", posts)
	}
}
