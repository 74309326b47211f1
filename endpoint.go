package micro

import "context"

// Endpoint handles requests to one route. Handle is called concurrently, from
// many goroutines at once; it owns req and the returned bytes are not
// modified by the caller. An error that is not an *Error reaches the caller
// as Unknown with the error's text.
type Endpoint interface {
	Handle(ctx context.Context, req []byte) ([]byte, error)
}

// HandlerFunc adapts an ordinary function to an Endpoint.
type HandlerFunc func(ctx context.Context, req []byte) ([]byte, error)

// Handle calls f(ctx, req).
func (f HandlerFunc) Handle(ctx context.Context, req []byte) ([]byte, error) { return f(ctx, req) }

// Middleware wraps an Endpoint in another: logging, auth, metrics, tracing.
type Middleware func(Endpoint) Endpoint

// Chain composes middleware into one. The first is outermost: it sees the
// request first and the reply last.
func Chain(outer Middleware, others ...Middleware) Middleware {
	return func(next Endpoint) Endpoint {
		for i := len(others) - 1; i >= 0; i-- {
			next = others[i](next)
		}
		return outer(next)
	}
}
