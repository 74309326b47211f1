package inproc

import (
	"bytes"
	"context"
	"sync/atomic"

	"github.com/dancinggopher/micro"
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
// deadline and is cancelled when ctx is. If ctx can be cancelled, the handler
// runs on its own goroutine and Call returns when ctx ends even if the
// handler does not; otherwise it runs on the caller's goroutine.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	cc, err := c.begin(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	_, replyHeader := micro.OutgoingHeader(ctx)
	if replyHeader != nil {
		cc.info.ReplyHeader = micro.Header{}
	}
	if ctx.Done() == nil {
		resp, err := c.serve(cc)
		return c.reply(resp, err, cc, replyHeader)
	}
	type result struct {
		resp []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := c.serve(cc)
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		return c.reply(r.resp, r.err, cc, replyHeader)
	case <-ctx.Done():
		return nil, &micro.Error{Code: micro.CodeOf(ctx.Err()), Message: ctx.Err().Error()}
	}
}

// Send runs the handler of (namespace, service) with a copy of msg on its own
// goroutine and returns once the server admitted it. The handler's ctx
// carries ctx's headers but not its deadline or cancellation; its error is
// logged by the server.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	cc, err := c.begin(context.Background(), namespace, service, msg)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		c.srv.inflight.Done()
		return micro.ErrorOf(err)
	}
	cc.info.Header, _ = micro.OutgoingHeader(ctx)
	cc.info.Header = cc.info.Header.Clone()
	go func() {
		if _, err := c.serve(cc); err != nil {
			c.srv.log.Warn("inproc: one-way message failed", "namespace", namespace, "service", service, "err", err)
		}
	}()
	return nil
}

// Close makes later calls fail with Unavailable. It does not stop the Server.
func (c *Client) Close() error {
	c.closed.Store(true)
	return nil
}

// begin checks the request, admits it to the server and copies it; on
// success the caller must end it with serve.
func (c *Client) begin(ctx context.Context, namespace, service string, req []byte) (*callCtx, error) {
	switch {
	case c.closed.Load():
		return nil, micro.Errorf(micro.Unavailable, "inproc: client closed")
	case len(req) > c.srv.max:
		return nil, micro.Errorf(micro.ResourceExhausted, "inproc: request of %d bytes exceeds the limit of %d", len(req), c.srv.max)
	}
	if err := ctx.Err(); err != nil {
		return nil, micro.ErrorOf(err)
	}
	if err := c.srv.enter(); err != nil {
		return nil, err
	}
	h, _ := micro.OutgoingHeader(ctx)
	return &callCtx{caller: ctx, srv: c.srv, req: bytes.Clone(req), info: micro.RequestInfo{
		Namespace: namespace, Service: service, Transport: "inproc", Header: h.Clone(),
	}}, nil
}

// serve runs the handler and ends the call.
func (c *Client) serve(cc *callCtx) ([]byte, error) {
	defer c.srv.inflight.Done()
	defer cc.finish()
	return c.srv.mux.Serve(cc, cc.info.Namespace, cc.info.Service, cc.req)
}

// reply turns a handler's result into what a network client would see.
func (c *Client) reply(resp []byte, err error, cc *callCtx, replyHeader micro.Header) ([]byte, error) {
	for k, v := range cc.info.ReplyHeader {
		replyHeader[k] = v
	}
	if err != nil {
		e := micro.ErrorOf(err)
		return nil, &micro.Error{Code: e.Code, Message: e.Message}
	}
	if len(resp) > c.srv.max {
		return nil, micro.Errorf(micro.ResourceExhausted, "inproc: reply of %d bytes exceeds the limit of %d", len(resp), c.srv.max)
	}
	return bytes.Clone(resp), nil
}
