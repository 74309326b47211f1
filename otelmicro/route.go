package otelmicro

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
)

// durationBuckets are the bucket boundaries, in seconds, that the
// conventions advise for rpc.*.call.duration and messaging.*.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// A key is what a route's telemetry is built from.
type key struct {
	namespace, service, transport string
	message                       bool // a one-way message, not a call
}

// A route holds what the telemetry of one key needs, built once, so that a
// request allocates nothing beyond what OpenTelemetry does: the span name
// and start options, and the metric options of every code.
type route struct {
	name     string
	start    []trace.SpanStartOption
	message  bool
	server   bool
	duration metric.Float64Histogram
	record   [numCodes][]metric.RecordOption
	active   []metric.AddOption // server side only
	status   [numCodes][]attribute.KeyValue
}

// maxRoutes bounds the routes cached per middleware. A client calling
// more distinct routes than that builds the options of the others on each
// call.
const maxRoutes = 1024

// A telemetry is one side's tracer, instruments and route cache.
type telemetry struct {
	cfg    config
	tracer trace.Tracer
	server bool
	rpc    metric.Float64Histogram   // rpc.{server,client}.call.duration
	msg    metric.Float64Histogram   // messaging.process.duration, messaging.client.operation.duration
	active metric.Int64UpDownCounter // server side only
	mu     sync.Mutex                // serializes additions to routes
	routes atomic.Pointer[map[key]*route]
}

func newTelemetry(opts []Option, server bool) *telemetry {
	t := &telemetry{cfg: newConfig(opts), server: server}
	t.tracer = t.cfg.tp.Tracer(scope, trace.WithSchemaURL(schemaURL))
	m := t.cfg.mp.Meter(scope, metric.WithSchemaURL(schemaURL))
	var err error
	rpcName, rpcDesc := "rpc.client.call.duration", "Measures the duration of an outgoing Remote Procedure Call (RPC)."
	msgName, msgDesc := "messaging.client.operation.duration", "Duration of messaging operation initiated by a producer or consumer client."
	if server {
		rpcName, rpcDesc = "rpc.server.call.duration", "Measures the duration of an incoming Remote Procedure Call (RPC)."
		msgName, msgDesc = "messaging.process.duration", "Duration of processing operation."
	}
	t.rpc, err = m.Float64Histogram(rpcName, metric.WithUnit("s"), metric.WithDescription(rpcDesc),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.rpc = instrumentOr[metric.Float64Histogram](t.rpc, err, noop.Float64Histogram{})
	t.msg, err = m.Float64Histogram(msgName, metric.WithUnit("s"), metric.WithDescription(msgDesc),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.msg = instrumentOr[metric.Float64Histogram](t.msg, err, noop.Float64Histogram{})
	if server {
		t.active, err = m.Int64UpDownCounter("micro.server.active_requests", metric.WithUnit("{request}"),
			metric.WithDescription("Number of requests and messages that handlers are serving."))
		t.active = instrumentOr[metric.Int64UpDownCounter](t.active, err, noop.Int64UpDownCounter{})
	}
	empty := map[key]*route{}
	t.routes.Store(&empty)
	return t
}

// instrumentOr returns instrument, or fallback if it is nil; it reports an error
// creating the instrument to OpenTelemetry's error handler.
func instrumentOr[I comparable](instrument I, err error, fallback I) I {
	if err != nil {
		otel.Handle(err)
	}
	var zero I
	if instrument == zero {
		return fallback
	}
	return instrument
}

// route returns the route of k, building and caching it the first time.
func (t *telemetry) route(k key) *route {
	if r := (*t.routes.Load())[k]; r != nil {
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.routes.Load()
	if r := old[k]; r != nil {
		return r
	}
	r := t.build(k)
	if len(old) < maxRoutes {
		m := make(map[key]*route, len(old)+1)
		for k, v := range old {
			m[k] = v
		}
		m[k] = r
		t.routes.Store(&m)
	}
	return r
}

func (t *telemetry) build(k key) *route {
	name := k.namespace + "." + k.service
	r := &route{name: name, message: k.message, server: t.server, duration: t.rpc}
	base := []attribute.KeyValue{keyNamespace.String(k.namespace), keyService.String(k.service)}
	if k.transport != "" {
		base = append(base, keyTransport.String(k.transport))
	}
	var kind trace.SpanKind
	if k.message {
		r.duration = t.msg
		op := opSend
		kind = trace.SpanKindProducer
		if t.server {
			op, kind = opProcess, trace.SpanKindConsumer
		}
		base = append(base,
			keyMsgSystem.String(messagingSystem(k.transport)),
			keyMsgDest.String(destination(k.transport, k.namespace, name)),
			keyMsgOpType.String(op), keyMsgOpName.String(op))
	} else {
		kind = trace.SpanKindClient
		if t.server {
			kind = trace.SpanKindServer
		}
		base = append(base, keyRPCSystem.String(rpcSystem), keyRPCMethod.String(name))
	}
	r.start = []trace.SpanStartOption{trace.WithSpanKind(kind), trace.WithAttributes(base...)}
	for c := range numCodes {
		var end []attribute.KeyValue
		if !k.message {
			end = append(end, keyRPCStatus.String(codeNames[c]))
		}
		if r.failed(micro.Code(c)) {
			end = append(end, keyErrorType.String(codeNames[c]))
		}
		r.status[c] = end
		set := attribute.NewSet(append(base[:len(base):len(base)], end...)...)
		r.record[c] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	if t.server {
		r.active = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(base...))}
	}
	return r
}

// failed reports whether code c makes the operation an error on this side:
// any code but OK on a client or a message, only the server's faults on a
// server's call.
func (r *route) failed(c micro.Code) bool {
	if r.server && !r.message {
		return serverFault[c]
	}
	return c != micro.OK
}

// start begins the span of a request.
func (t *telemetry) start(ctx context.Context, r *route) (context.Context, trace.Span, time.Time) {
	begin := time.Now()
	ctx, span := t.tracer.Start(ctx, r.name, r.start...)
	return ctx, span, begin
}

// end ends the span of a request that ended with err and code, and records
// its duration.
func (r *route) end(ctx context.Context, span trace.Span, begin time.Time, code micro.Code, err error, panicked bool) {
	elapsed := time.Since(begin).Seconds()
	if span.IsRecording() {
		span.SetAttributes(r.status[code]...)
		if r.failed(code) {
			span.SetStatus(codes.Error, description(err, panicked))
		}
		if panicked {
			span.AddEvent("panic")
		}
	}
	span.End()
	r.duration.Record(ctx, elapsed, r.record[code]...)
}

// description returns the status description of a failed request.
func description(err error, panicked bool) string {
	if panicked {
		return "handler panicked"
	}
	if e, ok := errors.AsType[*micro.Error](err); ok && e != nil {
		return e.Message
	}
	return err.Error()
}
