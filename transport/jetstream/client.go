package jetstream

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// Client publishes requests and one-way messages to the streams of micro
// services. It is safe for concurrent use. All Calls share one
// subscription to the client's reply subjects.
type Client struct {
	conn   *natsconn.Conn
	nc     *natsgo.Conn // conn.NC
	js     natsjs.JetStream
	o      clientOptions
	closed atomic.Bool

	mu      sync.Mutex
	inbox   string                      // "<inbox>." of the reply subscription, once made
	sub     *natsgo.Subscription        // the reply subscription
	waiting map[string]chan *natsgo.Msg // by the last token of the reply subject
}

var _ micro.Client = (*Client)(nil)

var discard = slog.New(slog.DiscardHandler)

// NewClient returns a Client on the WithConn connection, or dials one with
// WithURL and WithConnOptions; dialling blocks until connected or failed
// (nats.go's connect timeout, 2 s by default, per server). An unreachable
// server is Unavailable, bad credentials Unauthenticated. As on core NATS,
// the address is an option (WithURL or WithConn), not an argument.
func NewClient(opts ...ClientOption) (*Client, error) {
	o := newClientOptions(opts)
	if err := natsconn.CheckPrefix("jetstream", o.prefix); err != nil {
		return nil, err
	}
	conn, err := o.conn.Connect(context.Background(), "jetstream", "micro jetstream client", errorHandler(discard))
	if err != nil {
		return nil, err
	}
	js, err := natsjs.New(conn.NC, o.jsOpts...)
	if err != nil {
		conn.Close()
		return nil, micro.Errorf(micro.InvalidArgument, "jetstream: %w", err)
	}
	return &Client{conn: conn, nc: conn.NC, js: js, o: o, waiting: map[string]chan *natsgo.Msg{}}, nil
}

// msgIDKey is the context key of WithMsgID.
type msgIDKey struct{}

// WithMsgID returns a copy of ctx that makes Send and Call publish with
// the Nats-Msg-Id id: JetStream drops a second publish of the same id to a
// stream within its duplicate window (2 minutes unless configured), so a
// caller that retries a Send whose outcome it does not know gives the same
// id again. Without it, each Send and Call publishes with an id of its
// own, which deduplicates nats.go's own retries only.
func WithMsgID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, msgIDKey{}, id)
}

// Call publishes req to the subject "[prefix.]namespace.service", awaiting
// the stream's acknowledgement, with ctx's headers, its deadline in
// Micro-Deadline (micro.DefaultCallTimeout if ctx has none) and a core
// NATS reply subject of the client in Micro-Reply-To, then waits for the
// reply until ctx ends. The request is durable: a server that starts
// before the deadline answers it. A handler's error comes back as a
// *micro.Error with its code and message; a subject no stream holds is
// NotFound, a request over WithMaxMessageSize, the NATS server's
// max_payload or the stream's max_msg_size ResourceExhausted, a closed
// client Unavailable, and the deadline passing, with no server answering,
// DeadlineExceeded.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	header, replyHeader, err := c.prepare(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	m := c.message(namespace, service, header, req, 2)
	m.Header[natsconn.HeaderDeadline] = []string{transport.FormatDeadline(deadline)}
	to, ch, err := c.await()
	if err != nil {
		return nil, err
	}
	defer c.forget(to)
	m.Header[hdrReplyTo] = []string{to}
	if err := c.publish(ctx, m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		transport.CopyReplyHeader(replyHeader, userHeaders(r.Header))
		if e := natsconn.ReadError(r.Header); e != nil || len(r.Data) <= c.o.max {
			return transport.Result(r.Data, e)
		}
		return nil, micro.Errorf(micro.ResourceExhausted, "jetstream: reply of %d bytes exceeds the limit of %d", len(r.Data), c.o.max)
	case <-ctx.Done():
		return nil, micro.Errorf(micro.CodeOf(ctx.Err()), "jetstream: no reply from %s: %v", m.Subject, ctx.Err())
	}
}

// Send publishes msg to the subject "[prefix.]namespace.service" with
// ctx's headers and a Nats-Msg-Id (see [WithMsgID]) and returns once the
// stream acknowledged it: the message is then stored, and a server
// handles it at least once. It carries no deadline. Errors are as Call's.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	header, _, err := c.prepare(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	return c.publish(ctx, c.message(namespace, service, header, msg, 0))
}

// Close makes later calls fail with Unavailable and, if NewClient dialled
// the connection, flushes and closes it; a WithConn connection stays open
// (the reply subscription is removed). Calls waiting for a reply then end
// with their ctx.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
	c.mu.Unlock()
	c.conn.Close()
	return nil
}

func (c *Client) prepare(ctx context.Context, namespace, service string, body []byte) (header, reply micro.Header, err error) {
	if c.closed.Load() {
		return nil, nil, micro.Errorf(micro.Unavailable, "jetstream: client closed")
	}
	return transport.Prepare(ctx, namespace, service, body, c.o.max)
}

// message builds the message of a request, with room for extra headers.
func (c *Client) message(namespace, service string, header micro.Header, body []byte, extra int) *natsgo.Msg {
	m := &natsgo.Msg{Subject: natsconn.Subject(c.o.prefix, namespace, service), Data: body}
	if len(header)+extra > 0 {
		m.Header = make(natsgo.Header, len(header)+extra+1)
	}
	for k, v := range header {
		m.Header[strings.ToLower(k)] = []string{v}
	}
	return m
}

// publish publishes m to its stream and waits for the acknowledgement.
func (c *Client) publish(ctx context.Context, m *natsgo.Msg) error {
	id, _ := ctx.Value(msgIDKey{}).(string)
	if id == "" {
		id = nuid.Next()
	}
	ack, err := c.js.PublishMsg(ctx, m, natsjs.WithMsgID(id))
	if err != nil {
		return publishError(m.Subject, err)
	}
	_ = ack // a duplicate is stored already: success too
	return nil
}

// await returns a new reply subject of the client and the channel its
// reply arrives on, subscribing to the client's reply subjects at the
// first Call.
func (c *Client) await() (string, chan *natsgo.Msg, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sub == nil {
		inbox := c.nc.NewInbox() + "."
		sub, err := c.nc.Subscribe(inbox+"*", c.deliver)
		if err != nil {
			return "", nil, publishError(inbox+"*", err)
		}
		c.inbox, c.sub = inbox, sub
	}
	token := nuid.Next()
	ch := make(chan *natsgo.Msg, 1)
	c.waiting[token] = ch
	return c.inbox + token, ch, nil
}

// deliver hands a reply to the Call waiting for it; a reply no Call waits
// for any more is dropped.
func (c *Client) deliver(m *natsgo.Msg) {
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	c.mu.Lock()
	ch := c.waiting[token]
	delete(c.waiting, token)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// forget drops the reply subject to of a Call that returned.
func (c *Client) forget(to string) {
	c.mu.Lock()
	delete(c.waiting, to[len(c.inbox):])
	c.mu.Unlock()
}
