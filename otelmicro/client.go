package otelmicro

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// ClientMiddleware returns client middleware, for [micro.WrapClient], that
// makes each Call a CLIENT span and each Send a PRODUCER span, named for
// the route, and writes
// the span's context and ctx's baggage into the request's headers. It
// records rpc.client.call.duration for calls and
// messaging.client.operation.duration for messages.
//
// A header the propagator writes that micro's header alphabet cannot carry
// (a baggage over 4096 bytes, say) is dropped, as is any beyond the 64
// headers a request may carry: the call is made without it, never refused.
// Nothing is written when ctx has neither a valid span context nor baggage.
// The middleware is safe for concurrent use.
func ClientMiddleware(opts ...Option) micro.ClientMiddleware {
	t := newTelemetry(opts, false)
	return func(next micro.Invoker) micro.Invoker {
		return func(ctx context.Context, c *micro.Call, req []byte) ([]byte, error) {
			r := t.route(key{c.Namespace, c.Service, c.Transport, c.OneWay})
			ctx, span, begin := t.start(ctx, r)
			ctx = t.inject(ctx)
			resp, err := next(ctx, c, req)
			r.end(ctx, span, begin, codeOf(err), err, false)
			return resp, err
		}
	}
}

// inject returns ctx with the propagator's headers added.
func (t *telemetry) inject(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return ctx
	}
	out := carriers.Get().(*outgoing)
	defer out.release()
	t.cfg.prop.Inject(ctx, out)
	have, _ := transport.OutgoingHeader(ctx)
	n := len(have)
	for i := 0; i+1 < len(out.kv); i += 2 {
		k, v := out.kv[i], out.kv[i+1]
		if _, ok := have[k]; !ok {
			if n >= transport.MaxHeaders {
				continue
			}
			n++
		}
		ctx = micro.WithHeader(ctx, k, v)
	}
	return ctx
}

// outgoing collects what a propagator writes, keeping only the headers
// that micro's header alphabet can carry. They are pooled: a propagator
// writes two or three headers per call.
type outgoing struct {
	kv []string // key, value, key, value...
}

var carriers = sync.Pool{New: func() any { return &outgoing{kv: make([]string, 0, 6)} }}

func (o *outgoing) release() {
	clear(o.kv)
	o.kv = o.kv[:0]
	carriers.Put(o)
}

func (o *outgoing) Get(key string) string {
	for i := 0; i+1 < len(o.kv); i += 2 {
		if o.kv[i] == key {
			return o.kv[i+1]
		}
	}
	return ""
}

func (o *outgoing) Set(key, value string) {
	key = strings.ToLower(key)
	if transport.CheckHeader(key, value) != nil {
		return
	}
	for i := 0; i+1 < len(o.kv); i += 2 {
		if o.kv[i] == key {
			o.kv[i+1] = value
			return
		}
	}
	o.kv = append(o.kv, key, value)
}

func (o *outgoing) Keys() []string {
	keys := make([]string, 0, len(o.kv)/2)
	for i := 0; i < len(o.kv); i += 2 {
		keys = append(keys, o.kv[i])
	}
	return keys
}
