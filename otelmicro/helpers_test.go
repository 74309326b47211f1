package otelmicro_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// w3c propagates W3C trace context and baggage.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// A recorder keeps the spans that ended, in order, and lets a test wait
// for them.
type recorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
	more  chan struct{} // closed and replaced when a span ends
}

func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *recorder) Shutdown(context.Context) error                  { return nil }
func (r *recorder) ForceFlush(context.Context) error                { return nil }

func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, s)
	close(r.more)
	r.more = make(chan struct{})
}

// wait returns the spans once n have ended, failing t if they do not
// within 20 s.
func (r *recorder) wait(t testing.TB, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		spans, more := r.spans, r.more
		r.mu.Unlock()
		if len(spans) >= n {
			return spans
		}
		select {
		case <-more:
		case <-timeout.C:
			t.Fatalf("%d spans ended, want %d: %v", len(spans), n, names(spans))
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanKind().String()+" "+s.Name())
	}
	return out
}

// telemetry is what a test observes: spans, metrics, and the options that
// send both there.
type telemetry struct {
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	rec    *recorder
	reader *sdkmetric.ManualReader
	opts   []otelmicro.Option
}

func newTelemetry(t testing.TB) *telemetry {
	rec := &recorder{more: make(chan struct{})}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	return &telemetry{tp: tp, mp: mp, rec: rec, reader: reader, opts: []otelmicro.Option{
		otelmicro.WithTracerProvider(tp), otelmicro.WithMeterProvider(mp), otelmicro.WithPropagator(w3c),
	}}
}

// mux returns a Mux under tm's server middleware.
func (tm *telemetry) mux() *micro.Mux {
	mux := micro.NewMux()
	mux.Use(otelmicro.Middleware(tm.opts...))
	return mux
}

// client returns c under tm's client middleware.
func (tm *telemetry) client(c micro.Client) micro.Client {
	return micro.WrapClient(c, otelmicro.ClientMiddleware(tm.opts...))
}

// metric returns the data of the named metric.
func (tm *telemetry) metric(t testing.TB, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tm.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// attrs returns the attributes of s as a map of strings.
func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// hasAttrs reports the attributes of got that differ from want; "" in
// want means the attribute must be absent.
func diffAttrs(got []attribute.KeyValue, want map[string]string) []string {
	g := attrs(got)
	var diff []string
	for k, v := range want {
		if gv, ok := g[k]; v == "" && ok || v != "" && gv != v {
			diff = append(diff, k+"="+gv+", want "+v)
		}
	}
	return diff
}
