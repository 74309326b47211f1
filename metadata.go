package micro

import (
	"context"
	"strings"
)

// Header holds the string headers of a request or a reply. Keys are
// lower-case: transports lower-case keys on the way in (gRPC metadata forces
// it), so a handler sees the same keys whatever carried them. A nil Header is
// empty, and Set on it does nothing.
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

type outgoingKey struct{}

// outgoing is what a caller puts on its ctx for the next Call or Send.
type outgoing struct {
	header Header // request headers
	reply  Header // filled with the reply's headers, if the caller asked
}

// WithHeader returns a copy of ctx whose Calls and Sends carry the header key
// (lower-cased) with value, besides any headers ctx already carries.
func WithHeader(ctx context.Context, key, value string) context.Context {
	o, _ := ctx.Value(outgoingKey{}).(*outgoing)
	n := &outgoing{header: make(Header, 1)}
	if o != nil {
		n.header, n.reply = make(Header, len(o.header)+1), o.reply
		for k, v := range o.header {
			n.header[k] = v
		}
	}
	n.header.Set(key, value)
	return context.WithValue(ctx, outgoingKey{}, n)
}

// WithReplyHeader returns a copy of ctx whose Calls fill h with the headers
// of the reply, on transports that carry them. h must not be nil and must
// not be read until Call returns; use one h per Call, since concurrent Calls
// would write it at once.
func WithReplyHeader(ctx context.Context, h Header) context.Context {
	o, _ := ctx.Value(outgoingKey{}).(*outgoing)
	n := &outgoing{reply: h}
	if o != nil {
		n.header = o.header
	}
	return context.WithValue(ctx, outgoingKey{}, n)
}

// OutgoingHeader returns the request headers set on ctx with WithHeader, and
// the Header to fill with the reply's headers (nil if the caller did not ask).
// Transport clients call it; neither Header may be modified.
func OutgoingHeader(ctx context.Context) (request, reply Header) {
	if o, _ := ctx.Value(outgoingKey{}).(*outgoing); o != nil {
		return o.header, o.reply
	}
	return nil, nil
}

// RequestInfo describes the request a handler is serving. A server transport
// puts it in the handler's ctx with NewContext; handlers and middleware read it
// with RequestInfoFrom.
type RequestInfo struct {
	Namespace string
	Service   string
	Transport string // "inproc", "grpc", "nats", "kafka", ...
	// Header holds the request headers, keys lower-case. Do not modify it.
	Header Header
	// ReplyHeader is sent back with the reply. It is nil where the transport
	// or the call cannot carry reply headers, and then Set does nothing.
	ReplyHeader Header
}

type infoKey struct{}

// NewContext returns a copy of ctx carrying info. Transports call it before
// Mux.Serve; the Mux does not add it itself, so that serving allocates
// nothing a transport has not chosen to allocate.
func NewContext(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo in ctx. Outside a transport's call
// it returns an empty one, never nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	if info, ok := ctx.Value(infoKey{}).(*RequestInfo); ok {
		return info
	}
	return &RequestInfo{}
}

// InfoKey returns the context key under which NewContext stores the
// *RequestInfo. A transport with its own context type answers
// Value(InfoKey()) with its *RequestInfo instead of calling NewContext.
func InfoKey() any { return infoKey{} }
