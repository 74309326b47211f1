package nats

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Client calls micro services, or any NATS request-reply responder, over
// NATS. It is safe for concurrent use. All Calls share the connection's one
// response subscription.
type Client struct {
	nc     *natsgo.Conn
	owned  bool
	o      options
	closed atomic.Bool
}

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client on the WithConn connection, or dials one with
// WithURL and WithConnOptions. Dialling blocks until connected or failed
// (nats.go's connect timeout, 2 s by default, per server); bad credentials
// give an Unauthenticated error, an unreachable server Unavailable.
func NewClient(opts ...Option) (*Client, error) {
	o := newOptions(opts)
	nc, owned, err := o.connect(context.Background(), "micro client")
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, owned: owned, o: o}, nil
}

// Call sends req to "[prefix.]namespace.service" with ctx's headers and its
// deadline in the Micro-Deadline header, and waits for the reply until ctx
// ends (or WithTimeout passes, if ctx has no deadline). An error the handler
// returned comes back as a *micro.Error with its code and message. Other
// failures are *micro.Error too: no server subscribed to the subject is
// Unavailable, at once (an unknown namespace and a stopped server look the
// same on NATS); an unknown service of a served namespace is NotFound; a
// payload over WithMaxMessageSize or the NATS server's max_payload is
// ResourceExhausted; a closed or draining connection is Unavailable; the
// deadline passing is DeadlineExceeded. While the connection reconnects the
// request waits in nats.go's reconnect buffer until the deadline.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	m, err := c.message(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.timeout)
		defer cancel()
		deadline, _ = ctx.Deadline()
	}
	if m.Header == nil {
		m.Header = make(natsgo.Header, 1)
	}
	m.Header[hdrDeadline] = []string{strconv.FormatInt(deadline.UnixMilli(), 10)}

	resp, err := c.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return nil, callError(m.Subject, err)
	}
	if _, replyHeader := transport.OutgoingHeader(ctx); replyHeader != nil {
		for k, v := range fromWire(resp.Header) {
			replyHeader[k] = v
		}
	}
	if e := errorFrom(resp.Header); e != nil {
		return nil, e
	}
	if len(resp.Data) > c.o.maxSize {
		return nil, micro.Errorf(micro.ResourceExhausted, "nats: reply of %d bytes exceeds the limit of %d", len(resp.Data), c.o.maxSize)
	}
	return resp.Data, nil
}

// Send publishes msg to "[prefix.]namespace.service" with ctx's headers and
// returns once nats.go has buffered it for the NATS server; it does not wait
// for a handler. Delivery is core NATS: at most once, and a message
// published while no server is subscribed is dropped. Errors are as Call's.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	m, err := c.message(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return transport.ErrorOf(err)
	}
	if err := c.nc.PublishMsg(m); err != nil {
		return callError(m.Subject, err)
	}
	return nil
}

// Close makes later calls fail with Unavailable and, if NewClient dialled
// the connection, flushes and closes it; a WithConn connection stays open.
// Calls in flight on a dialled connection fail with Unavailable.
func (c *Client) Close() error {
	if c.closed.Swap(true) || !c.owned {
		return nil
	}
	c.nc.Close() // flushes what is buffered first
	return nil
}

// message checks a request and builds its message, without the deadline.
func (c *Client) message(ctx context.Context, namespace, service string, data []byte) (*natsgo.Msg, error) {
	switch {
	case c.closed.Load():
		return nil, micro.Errorf(micro.Unavailable, "nats: client closed")
	case !transport.ValidName(namespace) || !transport.ValidName(service):
		return nil, micro.Errorf(micro.InvalidArgument, "nats: invalid route %q.%q (want [A-Za-z0-9_-]+)", namespace, service)
	case len(data) > c.o.maxSize:
		return nil, micro.Errorf(micro.ResourceExhausted, "nats: request of %d bytes exceeds the limit of %d", len(data), c.o.maxSize)
	}
	m := &natsgo.Msg{Subject: subject(c.o.prefix, namespace, service), Data: data}
	h, _ := transport.OutgoingHeader(ctx)
	toWire(m, h)
	return m, nil
}

// callError types a failed request or publish.
func callError(subject string, err error) error {
	code := micro.Unknown
	switch {
	case errors.Is(err, natsgo.ErrNoResponders):
		return micro.Errorf(micro.Unavailable, "nats: no server serves %s (unknown namespace, or every server stopped): %w", subject, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
		code = micro.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = micro.Canceled
	case errors.Is(err, natsgo.ErrBadHeaderMsg):
		code = micro.InvalidArgument
	case errors.Is(err, natsgo.ErrMaxPayload):
		code = micro.ResourceExhausted
	case errors.Is(err, natsgo.ErrConnectionClosed), errors.Is(err, natsgo.ErrConnectionDraining),
		errors.Is(err, natsgo.ErrDisconnected), errors.Is(err, natsgo.ErrReconnectBufExceeded),
		errors.Is(err, natsgo.ErrNoServers), errors.Is(err, natsgo.ErrInvalidConnection):
		code = micro.Unavailable
	case errors.Is(err, natsgo.ErrPermissionViolation):
		code = micro.PermissionDenied
	}
	return micro.Errorf(code, "nats: %s: %w", subject, err)
}
