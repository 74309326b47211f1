package transport

import (
	"context"

	"github.com/dancinggopher/micro"
)

// Prepare checks a Call or Send before anything is sent and returns the
// request headers to send and the Header to fill with the reply's (nil if
// the caller did not ask). It refuses, with an *micro.Error:
// a malformed namespace or service (InvalidArgument), a body over max bytes
// (ResourceExhausted; max 0 means micro.DefaultMaxMessageSize), a request
// header outside the alphabet or reserved (InvalidArgument), and a ctx that
// is already done (Canceled or DeadlineExceeded).
func Prepare(ctx context.Context, namespace, service string, body []byte, max int) (request, reply micro.Header, err error) {
	if err := CheckRoute(namespace, service); err != nil {
		return nil, nil, err
	}
	if max <= 0 {
		max = micro.DefaultMaxMessageSize
	}
	if len(body) > max {
		return nil, nil, micro.Errorf(micro.ResourceExhausted, "request of %d bytes exceeds the limit of %d", len(body), max)
	}
	request, reply = OutgoingHeader(ctx)
	if err := checkHeaders(request); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, ErrorOf(err)
	}
	return request, reply, nil
}

// CheckRoute returns an InvalidArgument *micro.Error if namespace or
// service is not a valid name, with the message the Mux gives.
func CheckRoute(namespace, service string) error {
	switch {
	case !ValidName(namespace):
		return micro.Errorf(micro.InvalidArgument, "invalid namespace %q (want [A-Za-z0-9_-]+)", namespace)
	case !ValidName(service):
		return micro.Errorf(micro.InvalidArgument, "invalid service %q (want [A-Za-z0-9_-]+)", service)
	}
	return nil
}

// CallContext returns ctx bounded by [micro.DefaultCallTimeout] if it has no
// deadline, so that every Call carries a deadline to its handler. The
// caller must call cancel.
func CallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, micro.DefaultCallTimeout)
}

// Result returns what a client's Call gives its caller for a reply body and
// wire error: (nil, e) for a failure, never an error holding a nil pointer;
// else the body, nil when empty.
func Result(body []byte, e *micro.Error) ([]byte, error) {
	if e != nil {
		return nil, e
	}
	if len(body) == 0 {
		return nil, nil
	}
	return body, nil
}

// CopyReplyHeader copies the reply's headers into the caller's Header, if
// the caller asked for them.
func CopyReplyHeader(dst, src micro.Header) {
	if dst == nil {
		return
	}
	for k, v := range src {
		dst[k] = v
	}
}
