package transport

import (
	"context"
	"strings"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// The bounds of the header alphabet that every transport carries.
const (
	MaxHeaderKey   = 128  // bytes in a key
	MaxHeaderValue = 4096 // bytes in a value
	MaxHeaders     = 64   // headers in one request
)

// reservedPrefixes and reservedKeys are the transports' own header keys,
// lower-case: routing, deadlines, replies and errors of micro's wire
// contract; gRPC's and Connect's; HTTP's hop-by-hop and framing headers.
var (
	reservedPrefixes = []string{"micro-", "nats-", "grpc-", "connect-", ":"}
	reservedKeys     = map[string]bool{
		"content-length": true, "content-encoding": true, "accept-encoding": true,
		"connection": true, "keep-alive": true, "proxy-authenticate": true, "proxy-authorization": true,
		"proxy-connection": true, "te": true, "trailer": true, "transfer-encoding": true, "upgrade": true,
		"host": true, "user-agent": true,
	}
)

// Reserved reports whether the header key belongs to a transport rather
// than to callers and handlers, whatever its case. A micro client refuses a
// reserved request header, and no server lets one reach a handler or
// override routing, the deadline or the reply address.
func Reserved(key string) bool {
	key = strings.ToLower(key)
	if reservedKeys[key] {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// CheckHeader returns nil if key (lower-cased) and value keep to the header
// alphabet of [micro.Header] and key is not [Reserved], else an
// InvalidArgument *micro.Error naming the key, lower-cased.
func CheckHeader(key, value string) error {
	k := strings.ToLower(key)
	switch {
	case !validKey(k):
		return micro.Errorf(micro.InvalidArgument, "header %q: key must be 1-%d bytes of [a-z0-9._-], not ending in -bin", k, MaxHeaderKey)
	case Reserved(k):
		return micro.Errorf(micro.InvalidArgument, "header %q is reserved", k)
	case !validValue(value):
		return micro.Errorf(micro.InvalidArgument, "header %q: value must be at most %d bytes of printable ASCII with no leading or trailing space", k, MaxHeaderValue)
	}
	return nil
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxHeaderKey || strings.HasSuffix(k, "-bin") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	if len(v) > MaxHeaderValue {
		return false
	}
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ') {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// checkHeaders checks every header of h, and their number.
func checkHeaders(h micro.Header) error {
	if len(h) > MaxHeaders {
		return micro.Errorf(micro.InvalidArgument, "%d headers exceed the limit of %d", len(h), MaxHeaders)
	}
	for k, v := range h {
		if err := CheckHeader(k, v); err != nil {
			return err
		}
	}
	return nil
}

// OutgoingHeader returns the request headers a caller set on ctx with
// [micro.WithHeader], and the Header to fill with the reply's headers (nil
// if the caller did not ask). Neither may be modified. A client sends
// request only after [Prepare] checked it.
func OutgoingHeader(ctx context.Context) (request, reply micro.Header) {
	if o, _ := ctx.Value(ctxkey.Outgoing).(*ctxkey.OutgoingHeaders); o != nil {
		return o.Header, o.Reply
	}
	return nil, nil
}

// HeaderReader collects the user headers of one incoming message as the
// medium delivers them, by the one policy: keys are lower-cased; reserved
// keys (the transport reads its own before) and headers outside the alphabet
// are dropped; a key seen again has its value joined to the first with ",";
// past [MaxHeaders] keys, the rest are dropped. The zero value is ready.
type HeaderReader struct {
	h micro.Header
}

// Add adds one header as found on the wire.
func (r *HeaderReader) Add(key, value string) {
	k := strings.ToLower(key)
	if !validKey(k) || Reserved(k) || !validValue(value) {
		return
	}
	if old, ok := r.h[k]; ok {
		if joined := old + "," + value; len(joined) <= MaxHeaderValue {
			r.h[k] = joined
		}
		return
	}
	if r.h == nil {
		r.h = make(micro.Header, 4)
	} else if len(r.h) >= MaxHeaders {
		return
	}
	r.h[k] = value
}

// Header returns the headers added, or nil if none.
func (r *HeaderReader) Header() micro.Header { return r.h }

// DuplicateHeader returns the InvalidArgument error of a message that
// carries one of the transport's own headers more than once: such a message
// is refused, never routed by either value.
func DuplicateHeader(key string) *micro.Error {
	return micro.Errorf(micro.InvalidArgument, "header %q appears more than once", key)
}
