package otelmicro_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

var networks = []struct {
	name  string
	serve func(testing.TB, *micro.Mux) micro.Client
}{{"inproc", serveInproc}, {"grpc", serveGRPC}, {"nats", serveNATS}, {"kafka", serveKafka}}

// TestForeignTraceContext checks that a traceparent, tracestate and baggage
// that a producer without micro's middleware sets as plain headers (as
// kcat -H, nats req -H or grpcurl metadata do) are honoured on every
// transport, and that a malformed traceparent starts a new trace without
// failing the call.
func TestForeignTraceContext(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	for _, nw := range networks {
		t.Run(nw.name, func(t *testing.T) {
			t.Parallel()
			tm := newTelemetry(t)
			mux := tm.mux()
			seen := make(chan string, 4)
			mux.HandleFunc("foreign", "call", func(ctx context.Context, _ []byte) ([]byte, error) {
				seen <- baggage.FromContext(ctx).Member("tenant").Value()
				return nil, nil
			})
			c := nw.serve(t, mux)
			for i, tc := range []struct {
				traceparent string
				valid       bool
			}{
				{"00-" + traceID + "-" + spanID + "-01", true},
				{"garbage", false},
				{"00-" + strings.ToUpper(traceID) + "-" + spanID + "-01", false},
				{"00-00000000000000000000000000000000-" + spanID + "-01", false},
			} {
				ctx := micro.WithHeader(context.Background(), "traceparent", tc.traceparent)
				ctx = micro.WithHeader(ctx, "tracestate", "vendor=x")
				ctx = micro.WithHeader(ctx, "baggage", "tenant=acme")
				if _, err := c.Call(ctx, "foreign", "call", nil); err != nil {
					t.Fatalf("traceparent %q: Call: %v", tc.traceparent, err)
				}
				if b := <-seen; b != "acme" {
					t.Errorf("traceparent %q: baggage tenant=%q, want acme", tc.traceparent, b)
				}
				s := tm.rec.wait(t, i+1)[i]
				switch {
				case s.SpanKind() != trace.SpanKindServer:
					t.Errorf("span kind %v, want server", s.SpanKind())
				case tc.valid && (s.SpanContext().TraceID().String() != traceID || s.Parent().SpanID().String() != spanID || !s.Parent().IsRemote()):
					t.Errorf("span %s, parent %s; want trace %s, parent %s", s.SpanContext().TraceID(), s.Parent().SpanID(), traceID, spanID)
				case tc.valid && s.SpanContext().TraceState().Get("vendor") != "x":
					t.Errorf("tracestate %q, want vendor=x", s.SpanContext().TraceState())
				case !tc.valid && (s.Parent().IsValid() || s.SpanContext().TraceID().String() == traceID):
					t.Errorf("malformed traceparent %q: span has parent %v: want a new trace", tc.traceparent, s.Parent().SpanID())
				}
			}
		})
	}
}

// TestBaggageLimits checks that a baggage micro's headers cannot carry is
// dropped and the call made without it, and that a request that already
// has the most headers it may carry is sent without trace context rather
// than refused.
func TestBaggageLimits(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	mux := tm.mux()
	seen := make(chan micro.Header, 1)
	mux.HandleFunc("limits", "call", func(ctx context.Context, _ []byte) ([]byte, error) {
		seen <- micro.RequestInfoFrom(ctx).Header
		return nil, nil
	})
	c := tm.client(serveInproc(t, mux))

	member := func(k, v string) baggage.Member {
		m, err := baggage.NewMember(k, v)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	small, _ := baggage.New(member("tenant", "acme"))
	var big []baggage.Member
	for i := range 10 {
		big = append(big, member("k"+strconv.Itoa(i), strings.Repeat("v", 500)))
	}
	large, err := baggage.New(big...)
	if err != nil {
		t.Fatal(err)
	}
	many := context.Background()
	for i := range 64 {
		many = micro.WithHeader(many, "x-"+strconv.Itoa(i), "v")
	}

	for _, tc := range []struct {
		name         string
		ctx          context.Context
		wantBaggage  string
		wantTraceCtx bool
	}{
		{"small baggage", baggage.ContextWithBaggage(context.Background(), small), "tenant=acme", true},
		{"baggage over 4096 bytes", baggage.ContextWithBaggage(context.Background(), large), "", true},
		{"64 headers already", baggage.ContextWithBaggage(many, small), "", false},
	} {
		if _, err := c.Call(tc.ctx, "limits", "call", nil); err != nil {
			t.Fatalf("%s: Call: %v", tc.name, err)
		}
		h := <-seen
		if got := h.Get("baggage"); got != tc.wantBaggage {
			t.Errorf("%s: baggage header %.40q, want %q", tc.name, got, tc.wantBaggage)
		}
		if got := h.Get("traceparent") != ""; got != tc.wantTraceCtx {
			t.Errorf("%s: traceparent sent = %v, want %v", tc.name, got, tc.wantTraceCtx)
		}
	}
}

// TestGlobalProviders checks that nil options, like none, mean the global
// providers and propagator, looked up through otel's delegating globals:
// middleware built before the program sets them reports to them.
func TestGlobalProviders(t *testing.T) {
	tm := newTelemetry(t)
	var server micro.Middleware
	var client micro.ClientMiddleware
	build := func() {
		server = otelmicro.Middleware(otelmicro.WithTracerProvider(nil), otelmicro.WithMeterProvider(nil), otelmicro.WithPropagator(nil), nil)
		client = otelmicro.ClientMiddleware()
	}
	// otel's globals delegate once in a process, to what is set first;
	// a later run of this test (-count) builds after setting them.
	first := !globalsSet.Swap(true)
	if first {
		build()
	}
	tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
		otel.SetTextMapPropagator(prop)
	})
	otel.SetTracerProvider(tm.tp)
	otel.SetMeterProvider(tm.mp)
	otel.SetTextMapPropagator(w3c)
	if !first {
		build()
	}

	mux := micro.NewMux()
	mux.Use(server)
	mux.HandleFunc("global", "call", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	c := micro.WrapClient(serveInproc(t, mux), client)
	if _, err := c.Call(context.Background(), "global", "call", nil); err != nil {
		t.Fatal(err)
	}
	spans := tm.rec.wait(t, 2)
	srv, cl := find(t, spans, trace.SpanKindServer, "global.call"), find(t, spans, trace.SpanKindClient, "global.call")
	if srv.Parent().SpanID() != cl.SpanContext().SpanID() {
		t.Errorf("server span's parent %s, want the client span %s", srv.Parent().SpanID(), cl.SpanContext().SpanID())
	}
	tm.metric(t, "rpc.server.call.duration")
}

// globalsSet is whether TestGlobalProviders has set otel's globals in
// this process.
var globalsSet atomic.Bool

// headerWriter is a propagator that writes what micro's headers can and
// cannot carry.
type headerWriter struct{}

func (headerWriter) Inject(_ context.Context, c propagation.TextMapCarrier) {
	c.Set("X-Upper", "kept, lower-cased")
	c.Set("grpc-trace-bin", "reserved")
	c.Set("x-newline", "bad\nvalue")
	c.Set("x-space", " leading space")
	c.Set("x-long", strings.Repeat("v", 4097))
}
func (headerWriter) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}
func (headerWriter) Fields() []string { return []string{"x-upper"} }

// TestPropagatorHeaders checks that of what a propagator writes only what
// micro's header alphabet carries is sent, and the call never fails for
// the rest.
func TestPropagatorHeaders(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	mux := micro.NewMux()
	seen := make(chan micro.Header, 1)
	mux.HandleFunc("prop", "call", func(ctx context.Context, _ []byte) ([]byte, error) {
		seen <- micro.RequestInfoFrom(ctx).Header
		return nil, nil
	})
	opts := append(tm.opts[:len(tm.opts):len(tm.opts)], otelmicro.WithPropagator(headerWriter{}))
	c := micro.WrapClient(serveInproc(t, mux), otelmicro.ClientMiddleware(opts...))
	if _, err := c.Call(context.Background(), "prop", "call", nil); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if h := <-seen; len(h) != 1 || h["x-upper"] != "kept, lower-cased" {
		t.Errorf("headers %q, want only x-upper", h)
	}
}
