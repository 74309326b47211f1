package nats

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// Client calls micro services, or any NATS request-reply responder, over
// NATS. It is safe for concurrent use. All Calls share the connection's one
// response subscription.
type Client struct {
	conn   *natsconn.Conn
	nc     *natsgo.Conn // conn.NC
	o      clientOptions
	closed atomic.Bool

	// subjects caches the subject of each route called, up to
	// maxSubjects of them; the map is replaced, never written.
	subjects atomic.Pointer[map[micro.Route]string]
}

// maxSubjects bounds a Client's cache of subjects: a Client that calls
// more routes builds the subjects of the others per call.
const maxSubjects = 256

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client on the WithConn connection, or dials one with
// WithURL and WithConnOptions. Dialling blocks until connected or failed
// (nats.go's connect timeout, 2 s by default, per server); bad credentials
// give an Unauthenticated error, an unreachable server Unavailable, an
// invalid WithPrefix InvalidArgument without dialling. Unlike the gRPC and
// HTTP clients it takes no target argument: a NATS client either dials a
// URL (WithURL, default nats.DefaultURL) or shares a connection the
// program already has (WithConn), so the address is an option.
func NewClient(opts ...ClientOption) (*Client, error) {
	o := newClientOptions(opts)
	if err := natsconn.CheckPrefix("nats", o.prefix); err != nil {
		return nil, err
	}
	conn, err := o.conn.Connect(context.Background(), "nats", "micro client")
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, nc: conn.NC, o: o}, nil
}

// Call sends req to "[prefix.]namespace.service" with ctx's headers and its
// deadline (micro.DefaultCallTimeout from now if ctx has none) in the
// Micro-Deadline header, and waits for the reply until that deadline. An
// error the handler returned comes back as a *micro.Error with its code and
// message. Other failures are *micro.Error too: a malformed name or a
// request header that is reserved or outside the alphabet is
// InvalidArgument, before anything is sent; no server subscribed to the
// subject is Unavailable, at once (an unknown namespace and a stopped
// server look the same on NATS); an unknown service of a served namespace
// is NotFound; a body over WithMaxMessageSize or a message over the NATS
// server's max_payload is ResourceExhausted; a closed or draining
// connection is Unavailable; the deadline passing is DeadlineExceeded. While
// the connection reconnects the request waits in nats.go's reconnect buffer
// until the deadline. Cancelling ctx ends the Call but not the handler:
// NATS carries no cancellation, so the handler runs until its deadline.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	m, replyHeader, err := c.message(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	// A ctx that has no deadline and can never be cancelled (Background,
	// or values on it) leaves the Call to end only at
	// micro.DefaultCallTimeout: nats.go's pooled timer bounds the wait,
	// rather than a context and a timer made for each Call.
	deadline, bounded := ctx.Deadline()
	forever := !bounded && ctx.Done() == nil
	if forever {
		deadline = time.Now().Add(micro.DefaultCallTimeout)
	} else if !bounded {
		var cancel context.CancelFunc
		ctx, cancel = transport.CallContext(ctx)
		defer cancel()
		deadline, _ = ctx.Deadline()
	}
	if m.Header == nil {
		d := deadlineHeaders.Get().(*deadlineHeader)
		defer deadlineHeaders.Put(d)
		d.set(deadline.UnixMilli())
		m.Header = d.h
	} else {
		m.Header[natsconn.HeaderDeadline] = []string{transport.FormatDeadline(deadline)}
	}

	var resp *natsgo.Msg
	if forever {
		// The timer starts after the deadline was taken, so the
		// handler's deadline passes first.
		resp, err = c.nc.RequestMsg(&m, micro.DefaultCallTimeout)
	} else {
		resp, err = c.nc.RequestMsgWithContext(ctx, &m)
	}
	if err != nil {
		return nil, callError(m.Subject, err)
	}
	header, _ := readHeader(resp.Header)
	transport.CopyReplyHeader(replyHeader, header)
	e := natsconn.ReadError(resp.Header)
	if e == nil && len(resp.Data) > c.o.maxSize {
		e = micro.Errorf(micro.ResourceExhausted, "reply of %d bytes exceeds the limit of %d", len(resp.Data), c.o.maxSize)
	}
	return transport.Result(resp.Data, e)
}

// deadlineHeader is the header map of a Call without request headers, which
// carries only the Micro-Deadline header. nats.go encodes a message's
// headers when it publishes the message and keeps no reference to them, so
// the map is reused from a pool.
type deadlineHeader struct {
	h   natsgo.Header
	v   [1]string // h's one value
	buf [20]byte  // the bytes of v[0]
}

// set makes the header's value ms in decimal, formatted into d's own
// buffer: nats.go copies the header's bytes into the request when it
// publishes, before the Call puts d back.
func (d *deadlineHeader) set(ms int64) {
	b := strconv.AppendInt(d.buf[:0], ms, 10)
	d.v[0] = unsafe.String(&b[0], len(b))
	d.h[natsconn.HeaderDeadline] = d.v[:]
}

var deadlineHeaders = sync.Pool{New: func() any { return &deadlineHeader{h: make(natsgo.Header, 1)} }}

// Send publishes msg to "[prefix.]namespace.service" with ctx's headers,
// and no deadline, and returns once nats.go has buffered it for the NATS
// server; it does not wait for a handler. Delivery is core NATS: at most
// once, and a message published while no server is subscribed is dropped.
// Errors are as Call's.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	m, _, err := c.message(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	if err := c.nc.PublishMsg(&m); err != nil {
		return callError(m.Subject, err)
	}
	return nil
}

// Close makes later calls fail with Unavailable and, if NewClient dialled
// the connection, flushes and closes it; a WithConn connection stays open.
// Calls in flight on a dialled connection fail with Unavailable.
func (c *Client) Close() error {
	if !c.closed.Swap(true) {
		c.conn.Close()
	}
	return nil
}

// message checks a request by the kit's rules and builds its message,
// without the deadline; reply is the caller's Header for the reply's. The
// message is returned by value: nats.go does not keep it, so it stays on
// the caller's stack.
func (c *Client) message(ctx context.Context, namespace, service string, data []byte) (m natsgo.Msg, reply micro.Header, err error) {
	if c.closed.Load() {
		return m, nil, micro.Errorf(micro.Unavailable, "nats: client closed")
	}
	header, reply, err := transport.Prepare(ctx, namespace, service, data, c.o.maxSize)
	if err != nil {
		return m, nil, err
	}
	m = natsgo.Msg{Subject: c.subject(namespace, service), Data: data}
	writeHeader(&m, header)
	return m, reply, nil
}

// subject returns the subject of a route, from the cache if it is there,
// else built and, while the cache holds fewer than maxSubjects, added to
// it.
func (c *Client) subject(namespace, service string) string {
	r := micro.Route{Namespace: namespace, Service: service}
	cached := c.subjects.Load()
	if cached != nil {
		if s, ok := (*cached)[r]; ok {
			return s
		}
	}
	s := natsconn.Subject(c.o.prefix, namespace, service)
	if cached == nil || len(*cached) < maxSubjects {
		next := make(map[micro.Route]string, 1+len(ptrOr(cached)))
		for k, v := range ptrOr(cached) {
			next[k] = v
		}
		next[r] = s
		c.subjects.CompareAndSwap(cached, &next) // a lost race only misses the cache once
	}
	return s
}

func ptrOr(m *map[micro.Route]string) map[micro.Route]string {
	if m == nil {
		return nil
	}
	return *m
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

// String returns "nats", the name client middleware sees in micro.Call.
func (c *Client) String() string { return "nats" }
