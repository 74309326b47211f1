// Package otelmicro traces and measures micro calls with OpenTelemetry, the
// same way on every transport.
//
// [Middleware] goes on a Mux (with [micro.Mux.Use]) and gives every request
// a server span; [ClientMiddleware] goes on a client (with
// [micro.WrapClient]) and gives every Call and Send a client span. Trace
// context travels in micro's request headers, which every transport carries
// natively (gRPC metadata, NATS headers, Kafka record headers), so one trace
// follows a request from gRPC to a Kafka consumer to a NATS service without
// any transport-specific code here. Headers set by foreign producers
// (kcat -H traceparent=..., nats req -H traceparent:..., grpcurl metadata)
// are honoured alike.
//
// Span names are the route, "greeter.hello". A Call is a CLIENT span on the
// caller and a SERVER span in the handler. A Send is a one-way message on
// every transport: a PRODUCER span on the caller and a CONSUMER span in the
// handler, the child of the PRODUCER span (the message's creation
// context), so a request and the messages it causes form one trace. Where
// the medium acknowledges a Send only once the handler returned (gRPC), the
// PRODUCER span lasts that long.
//
// Attributes and metrics follow the OpenTelemetry semantic conventions
// v1.44.0 (RPC and messaging), plus micro.namespace, micro.service and
// micro.transport; see the package README for the full list. Metric
// attributes are of bounded cardinality: route, transport and code, never
// a payload or a header value.
//
// By default the middleware uses the global TracerProvider, MeterProvider
// and TextMapPropagator of go.opentelemetry.io/otel, looked up when the
// middleware is made (the global ones delegate to providers set later).
// Note that the global propagator propagates nothing until
// otel.SetTextMapPropagator is called; pass [WithPropagator] or set it to
// propagation.TraceContext and propagation.Baggage.
//
// [NewLogHandler] adds trace_id and span_id to the log records of a
// handler's ctx.
package otelmicro
