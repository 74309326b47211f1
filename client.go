package micro

import "context"

// Call describes one outgoing request to client middleware.
type Call struct {
	Namespace string
	Service   string
	// Transport names the client's transport, as its String method does
	// ("nats"), or is "" if the client does not say.
	Transport string
	// OneWay is set for a Send: the reply is nil and only the error counts.
	OneWay bool
}

// Invoker sends one request: a Client's Call, or its Send when c.OneWay.
type Invoker func(ctx context.Context, c *Call, req []byte) ([]byte, error)

// ClientMiddleware wraps an Invoker in another: auth tokens, retries,
// tracing, added once per client rather than on every ctx. It is the client
// side's counterpart of [Middleware].
type ClientMiddleware func(Invoker) Invoker

// ChainClient composes client middleware into one. The first is outermost:
// it sees the request first and the reply last.
func ChainClient(outer ClientMiddleware, others ...ClientMiddleware) ClientMiddleware {
	return func(next Invoker) Invoker {
		for i := len(others) - 1; i >= 0; i-- {
			next = others[i](next)
		}
		return outer(next)
	}
}

// WrapClient returns a Client whose Calls and Sends go through mw, the first
// outermost, before reaching c. Close closes c. With no middleware it
// returns c.
func WrapClient(c Client, mw ...ClientMiddleware) Client {
	if len(mw) == 0 {
		return c
	}
	w := &wrapped{Client: c}
	if s, ok := c.(interface{ String() string }); ok {
		w.transport = s.String()
	}
	w.invoke = ChainClient(mw[0], mw[1:]...)(func(ctx context.Context, call *Call, req []byte) ([]byte, error) {
		if call.OneWay {
			return nil, c.Send(ctx, call.Namespace, call.Service, req)
		}
		return c.Call(ctx, call.Namespace, call.Service, req)
	})
	return w
}

type wrapped struct {
	Client
	transport string
	invoke    Invoker
}

func (w *wrapped) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	return w.invoke(ctx, &Call{Namespace: namespace, Service: service, Transport: w.transport}, req)
}

func (w *wrapped) Send(ctx context.Context, namespace, service string, msg []byte) error {
	_, err := w.invoke(ctx, &Call{Namespace: namespace, Service: service, Transport: w.transport, OneWay: true}, msg)
	return err
}

// String returns the wrapped client's transport name.
func (w *wrapped) String() string { return w.transport }
