package inproc

import (
	"bytes"
	"context"
	"sync/atomic"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Client calls the services of one Server in the same process. It is safe
// for concurrent use.
type Client struct {
	srv    *Server
	closed atomic.Bool
}

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client of s.
func NewClient(s *Server) *Client { return &Client{srv: s} }

// Call runs the handler of (namespace, service) with a copy of req and
// returns a copy of its reply. The handler's ctx carries ctx's headers and
// deadline (micro.DefaultCallTimeout if ctx has none) and is cancelled when
// ctx is. If ctx can end, the handler runs on its own goroutine and Call
// returns when ctx ends even if the handler does not; a ctx that can never
// end (context.Background) runs it on the caller's goroutine, at no
// scheduling cost, and Call returns when the handler does.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	header, replyHeader, err := c.begin(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	r := transport.Request{Namespace: namespace, Service: service, Header: header.Clone(), Body: req}
	if ctx.Done() == nil {
		// r stays on this goroutine's stack, and req, which the caller
		// cannot change before Call returns, is copied with the handler's
		// context.
		r.Deadline = time.Now().Add(micro.DefaultCallTimeout)
		r.CopyBody = true
		return c.reply(c.serve(&r), replyHeader)
	}
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	moved := r // the handler's goroutine gets its own copy, and of req
	moved.Body = bytes.Clone(req)
	moved.Deadline, _ = ctx.Deadline()
	moved.Caller = ctx
	done := make(chan transport.Reply, 1)
	go func() { done <- c.serve(&moved) }()
	select {
	case rep := <-done:
		// A handler that returned because ctx ended raced ctx's own
		// signal here: the caller's cancellation or deadline wins, as
		// on every other transport.
		if err := ctx.Err(); err != nil {
			return nil, transport.ErrorOf(err)
		}
		return c.reply(rep, replyHeader)
	case <-ctx.Done():
		return nil, transport.ErrorOf(ctx.Err())
	}
}

// reply is what the caller gets of a Reply: copies of the body and headers.
func (c *Client) reply(rep transport.Reply, replyHeader micro.Header) ([]byte, error) {
	transport.CopyReplyHeader(replyHeader, rep.Header)
	return transport.Result(bytes.Clone(rep.Body), rep.Err)
}

// Send runs the handler of (namespace, service) with a copy of msg on its own
// goroutine and returns once the server admitted it. The handler's ctx
// carries ctx's headers but not its deadline or cancellation; its error is
// logged by the server.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	header, _, err := c.begin(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	r := &transport.Request{
		Namespace: namespace, Service: service, Header: header.Clone(),
		Body: bytes.Clone(msg), OneWay: true,
	}
	go c.serve(r)
	return nil
}

// Close makes later calls fail with Unavailable. It does not stop the Server.
func (c *Client) Close() error {
	c.closed.Store(true)
	return nil
}

// begin checks a request and admits it to the server; on success the
// caller must end it with serve.
func (c *Client) begin(ctx context.Context, namespace, service string, body []byte) (header, reply micro.Header, err error) {
	if c.closed.Load() {
		return nil, nil, micro.Errorf(micro.Unavailable, "inproc: client closed")
	}
	header, reply, err = transport.Prepare(ctx, namespace, service, body, c.srv.d.MaxMessageSize)
	if err != nil {
		return nil, nil, err
	}
	if e := c.srv.Gate().Enter(); e != nil {
		return nil, nil, e
	}
	return header, reply, nil
}

// serve runs an admitted request.
func (c *Client) serve(r *transport.Request) transport.Reply {
	defer c.srv.Gate().Leave()
	return c.srv.d.Serve(c.srv.Base(), r)
}

// String returns "inproc", the name client middleware sees in micro.Call.
func (c *Client) String() string { return "inproc" }
