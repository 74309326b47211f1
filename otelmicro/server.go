package otelmicro

import (
	"context"
	"iter"
	"log/slog"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
)

// Middleware returns server middleware, for [micro.Mux.Use], that reads the
// trace context and baggage from the request's headers and serves each
// request in a span named for its route: SERVER for a call, CONSUMER for a
// one-way message (the child of its PRODUCER span). It records
// rpc.server.call.duration for calls, messaging.process.duration for
// messages, and micro.server.active_requests for both.
//
// A request whose headers carry no trace context, or a malformed one,
// starts a new trace; it is served all the same. A handler's panic ends the
// span as Internal, with a "panic" event, and goes on to the Mux, which
// recovers it. The span also carries the request's RequestInfo.Attrs, what
// the transport knows of the message (a Kafka record's partition, offset,
// group and attempt); metrics do not, to keep their cardinality bounded.
// Where the transport tells what it does with a message by its handler's
// result ([micro.RequestInfo.Outcome]: Kafka, JetStream), the span carries
// it as micro.delivery.outcome, with an event when the message is retried
// or dead-lettered.
// The middleware is safe for concurrent use.
func Middleware(opts ...Option) micro.Middleware {
	t := newTelemetry(opts, true)
	return func(next micro.Endpoint) micro.Endpoint {
		return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
			return t.serve(ctx, next, req)
		})
	}
}

func (t *telemetry) serve(ctx context.Context, next micro.Endpoint, req []byte) (resp []byte, err error) {
	info := micro.RequestInfoFrom(ctx)
	// A transport that gives no ReplyHeader has no reply path: the request
	// is a message, whether or not the transport sets OneWay yet.
	r := t.route(key{info.Namespace, info.Service, info.Transport, info.OneWay || info.ReplyHeader == nil})
	if len(info.Header) > 0 {
		ctx = t.cfg.prop.Extract(ctx, incoming(info.Header))
	}
	ctx, span, begin := t.start(ctx, r)
	if span.IsRecording() {
		if kvs := attributes(info.Attrs); len(kvs) > 0 {
			span.SetAttributes(kvs...)
		}
	}
	t.active.Add(ctx, 1, r.active...)
	panicked := true
	defer func() {
		t.active.Add(ctx, -1, r.active...)
		code := micro.Internal // what the Mux answers a panic with
		if !panicked {
			code = codeOf(err)
		}
		if info.Outcome != nil && span.IsRecording() {
			outcome(span, info.Outcome, err, panicked)
		}
		r.end(ctx, span, begin, code, err, panicked)
	}()
	resp, err = next.Handle(ctx, req)
	panicked = false
	return resp, err
}

// outcome records on span what the transport does with the message by
// the handler's result: the attribute micro.delivery.outcome, and an event
// of the same name when the message is retried or dead-lettered, so that
// trace views show it on the timeline. A panic counts as Internal, what
// the Mux answers it with.
func outcome(span trace.Span, of func(error) string, err error, panicked bool) {
	if panicked {
		err = micro.NewError(micro.Internal, "handler panicked")
	}
	o := of(err)
	span.SetAttributes(keyOutcome.String(o))
	if o == "retry" || o == "dead_letter" {
		span.AddEvent(string(keyOutcome), trace.WithAttributes(keyOutcome.String(o)))
	}
}

// incoming reads a request's headers for a propagator. Keys are lower-case
// already; Get lower-cases the key it is asked for.
type incoming micro.Header

func (h incoming) Get(key string) string { return micro.Header(h).Get(key) }

// Set does nothing: a request's headers are read-only.
func (h incoming) Set(string, string) {}

func (h incoming) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// attributes converts a transport's slog attributes to span attributes:
// bools, integers, floats and strings keep their kind; a uint64 beyond
// int64, and any other value, becomes its string.
func attributes(attrs iter.Seq[slog.Attr]) []attribute.KeyValue {
	var kvs []attribute.KeyValue // none for a transport that tells nothing
	for a := range attrs {
		if kvs == nil {
			kvs = make([]attribute.KeyValue, 0, 4) // Kafka's four in one allocation
		}
		k, v := attribute.Key(a.Key), a.Value.Resolve()
		switch v.Kind() {
		case slog.KindBool:
			kvs = append(kvs, k.Bool(v.Bool()))
		case slog.KindInt64:
			kvs = append(kvs, k.Int64(v.Int64()))
		case slog.KindUint64:
			if u := v.Uint64(); u <= math.MaxInt64 {
				kvs = append(kvs, k.Int64(int64(u)))
			} else {
				kvs = append(kvs, k.String(v.String()))
			}
		case slog.KindFloat64:
			kvs = append(kvs, k.Float64(v.Float64()))
		default:
			kvs = append(kvs, k.String(v.String()))
		}
	}
	return kvs
}
