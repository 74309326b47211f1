package micro

import (
	"context"
	"iter"
	"log/slog"
	"strings"

	"github.com/dancinggopher/micro/internal/ctxkey"
)

// Header holds the string headers of a request or a reply. Keys are
// lower-case: transports lower-case keys on the way in (gRPC metadata forces
// it), so a handler sees the same keys whatever carried them. A nil Header is
// empty, and Set on it does nothing.
//
// Every transport carries the same alphabet, so a header that crosses one
// crosses all: a key is 1 to 128 bytes of [a-z0-9._-] (after lower-casing)
// not ending in "-bin"; a value is at most 4096 bytes of printable ASCII
// (0x20 to 0x7E) with no leading or trailing space; a request carries at
// most 64 headers. The transports' own keys are reserved: those starting
// "micro-", "nats-", "grpc-", "connect-" or ":", and content-length, content-encoding, accept-encoding, connection, keep-alive,
// proxy-authenticate, proxy-authorization, proxy-connection, te, trailer,
// transfer-encoding, upgrade, host and user-agent. A key repeated on the
// wire by a foreign producer reaches the handler once, its values joined
// with ",". The key content-type names the body's encoding on every
// transport (see [Codec]).
type Header map[string]string

// Get returns the value of key, matched without regard to case.
func (h Header) Get(key string) string { return h[strings.ToLower(key)] }

// Set sets key, lower-cased, to value. On a nil Header it does nothing, so a
// handler may set reply headers on a transport that cannot carry them.
func (h Header) Set(key, value string) {
	if h != nil {
		h[strings.ToLower(key)] = value
	}
}

// Clone returns a copy of h, or nil if h is empty.
func (h Header) Clone() Header {
	if len(h) == 0 {
		return nil
	}
	c := make(Header, len(h))
	for k, v := range h {
		c[k] = v
	}
	return c
}

// WithHeader returns a copy of ctx whose Calls and Sends carry the header key
// (lower-cased) with value, besides any headers ctx already carries. Keys and
// values must keep to the header alphabet (see [Header]); a client refuses
// any other with InvalidArgument before it sends anything.
func WithHeader(ctx context.Context, key, value string) context.Context {
	o, _ := ctx.Value(ctxkey.Outgoing).(*ctxkey.OutgoingHeaders)
	n := &ctxkey.OutgoingHeaders{Header: make(Header, 1)}
	if o != nil {
		n.Header, n.Reply = make(Header, len(o.Header)+1), o.Reply
		for k, v := range o.Header {
			n.Header[k] = v
		}
	}
	Header(n.Header).Set(key, value)
	return context.WithValue(ctx, ctxkey.Outgoing, n)
}

// WithReplyHeader returns a copy of ctx whose Calls fill h with the headers
// of the reply, on transports that carry them. h must not be nil and must
// not be read until Call returns; use one h per Call, since concurrent Calls
// would write it at once.
func WithReplyHeader(ctx context.Context, h Header) context.Context {
	if h == nil {
		panic("micro: WithReplyHeader with a nil Header")
	}
	o, _ := ctx.Value(ctxkey.Outgoing).(*ctxkey.OutgoingHeaders)
	n := &ctxkey.OutgoingHeaders{Reply: h}
	if o != nil {
		n.Header = o.Header
	}
	return context.WithValue(ctx, ctxkey.Outgoing, n)
}

// RequestInfo describes the request a handler is serving. Every server
// transport puts it in the handler's ctx; handlers and middleware read it
// with [RequestInfoFrom].
type RequestInfo struct {
	Namespace string
	Service   string
	Transport string // "inproc", "grpc", "nats", "kafka", "http", "jetstream"
	// OneWay is set for a message sent with Send: no reply reaches anyone.
	OneWay bool
	// Header holds the request headers, keys lower-case; nil if there are
	// none. Do not modify it.
	Header Header
	// ReplyHeader is sent back with the reply. It is never nil: on a one-way
	// message, or a transport that cannot carry reply headers, what is set
	// is dropped. Its keys and values must keep to the header alphabet, or
	// the call fails with Internal. Set it only until the handler returns:
	// the server then copies it out and reuses the map.
	ReplyHeader Header
	// Attrs yields what the medium tells of the message, keyed by
	// OpenTelemetry names where the semantic conventions have one: Kafka
	// yields messaging.destination.partition.id, messaging.kafka.offset,
	// messaging.consumer.group.name and micro.delivery.attempt (1 for the
	// first attempt); JetStream its consumer, micro.jetstream.stream.sequence
	// and micro.delivery.attempt; the other transports nothing. A few per
	// message, never a payload or header value. It is never nil. It reads
	// the transport's state of the message in flight, built only when
	// asked for, so range over it only until the handler returns, and copy
	// what you keep (slices.Collect); otelmicro's middleware puts them on
	// the span before the handler runs.
	Attrs iter.Seq[slog.Attr]
	// Outcome is set by the transports that settle a message by its
	// handler's result, Kafka and JetStream; nil elsewhere. It tells what
	// the transport does with the message if the handler returns err:
	// "ack" (done with), "retry" (delivered again after a backoff),
	// "reply" (the error goes back to the caller of a request),
	// "dead_letter" (sent to the dead-letter topic or subject) or "drop"
	// (logged and skipped, for want of a dead-letter destination). A reply
	// the transport refuses after the handler returned (reply headers
	// outside the alphabet, a reply over the size limit) is not foreseen.
	// Middleware, such as otelmicro's, calls it once the handler returned;
	// it may be called only until the middleware itself returns.
	Outcome func(err error) string
}

// RequestInfoFrom returns the RequestInfo in ctx. Outside a transport's call
// it returns an empty one, never nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	if info, ok := ctx.Value(ctxkey.Info).(*RequestInfo); ok {
		return info
	}
	return &RequestInfo{ReplyHeader: Header{}, Attrs: NoAttrs}
}

// NoAttrs is the RequestInfo.Attrs of a message the transport tells
// nothing of: it yields nothing.
func NoAttrs(func(slog.Attr) bool) {}
