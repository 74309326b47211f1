package grpc

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// Client calls micro services over one gRPC connection. It is safe for
// concurrent use; calls are multiplexed on the connection.
type Client struct {
	conn   *grpclib.ClientConn
	max    int
	closed atomic.Bool
}

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client of the server at target, in grpc.NewClient's
// syntax ("localhost:50051", "dns:///svc.example:50051"). A Client is one
// grpc.ClientConn, so it needs the target up front, and it returns the
// error grpc.NewClient gives for a target or dial options it cannot use
// (an unknown scheme, say). It does not connect: the connection is made by
// the first call and remade as needed, so a server that is down is no
// error here but Unavailable from the calls. Without WithTLS the
// connection is plaintext.
func NewClient(target string, opts ...ClientOption) (*Client, error) {
	o := newClientOptions(opts)
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dopts := append([]grpclib.DialOption{
		grpclib.WithTransportCredentials(creds),
		// The connection makes only micro's calls, so their options are
		// its defaults, which grpc-go then need not merge with a call's own
		// on every call. StaticMethod tells gRPC's metrics that the method
		// name is not user input, as generated code does.
		grpclib.WithDefaultCallOptions(grpclib.MaxCallRecvMsgSize(wireLimit(o.max)), grpclib.StaticMethod()),
	}, o.dial...)
	conn, err := grpclib.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("grpc: client of %s: %w", target, err)
	}
	return &Client{conn: conn, max: o.max}, nil
}

// Call sends req to (namespace, service) and returns the handler's reply. It
// blocks until the reply arrives or ctx ends. Headers set on ctx with
// micro.WithHeader travel as metadata, ctx's deadline (or
// micro.DefaultCallTimeout if it has none) as the gRPC deadline, and a
// reply Header asked for with micro.WithReplyHeader is filled from the
// reply's header metadata. Errors are *micro.Error: the handler's code and
// message; InvalidArgument for a malformed name or a request header the
// header policy refuses, and ResourceExhausted for a request over the size
// limit, before anything is sent; NotFound if the server does not serve
// micro at all; Unavailable if the server cannot be reached or the Client
// is closed.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	header, replyHeader, err := c.prepare(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	return transport.Result(c.invoke(ctx, namespace, service, req, header, replyHeader, false))
}

// Send sends msg to (namespace, service) as a one-way message: its handler
// gets ctx's headers but no deadline, and the server logs its failure.
// gRPC has no other acknowledgement than the reply, so Send blocks until
// the handler returned (or ctx ended) and returns what Call would, the
// reply dropped: unlike a broker transport it reports NotFound and the
// handler's failure. ctx without a deadline lets Send wait as long as the
// handler runs.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	header, _, err := c.prepare(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	if _, e := c.invoke(ctx, namespace, service, msg, header, nil, true); e != nil {
		return e
	}
	return nil
}

// String returns "grpc", the name client middleware sees in micro.Call.
func (c *Client) String() string { return "grpc" }

// Close closes the connection. Calls in flight and later fail with
// Unavailable. It is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("grpc: close: %w", err)
	}
	return nil
}

func (c *Client) prepare(ctx context.Context, namespace, service string, body []byte) (header, reply micro.Header, err error) {
	if c.closed.Load() {
		return nil, nil, micro.Errorf(micro.Unavailable, "grpc: client closed")
	}
	return transport.Prepare(ctx, namespace, service, body, c.max)
}

// invoke makes one call of micro.v1.Micro/Call with checked headers.
func (c *Client) invoke(ctx context.Context, namespace, service string, body []byte, header, replyHeader micro.Header, oneWay bool) ([]byte, *micro.Error) {
	ctx = withOutgoing(ctx, header, oneWay)
	msgs := &struct {
		req  microv1.CallRequest
		resp microv1.CallResponse
	}{req: microv1.CallRequest{Namespace: namespace, Service: service, Data: body}}
	var err error
	if replyHeader == nil {
		err = c.conn.Invoke(ctx, callMethod, &msgs.req, &msgs.resp)
	} else {
		var md metadata.MD
		err = c.conn.Invoke(ctx, callMethod, &msgs.req, &msgs.resp, grpclib.Header(&md))
		transport.CopyReplyHeader(replyHeader, readHeader(md))
	}
	if err != nil {
		return nil, c.callError(ctx, err)
	}
	if len(msgs.resp.Data) > c.max {
		return nil, micro.Errorf(micro.ResourceExhausted, "reply of %d bytes exceeds the limit of %d", len(msgs.resp.Data), c.max)
	}
	return msgs.resp.Data, nil
}

// callError turns an error of Invoke into a *micro.Error: a status by the
// kit's ParseError (a code outside 1 to 16 is Unknown), an error that is no
// status Unavailable. Unimplemented is a handler's only if the server
// marked it so (see handlerMark); otherwise it is NotFound.
func (c *Client) callError(ctx context.Context, err error) *micro.Error {
	st, ok := status.FromError(err)
	if !ok {
		return micro.Errorf(micro.Unavailable, "grpc: %v", err)
	}
	switch code, msg := st.Code(), st.Message(); {
	case code == codes.Canceled && ctx.Err() == nil && c.closed.Load():
		return micro.Errorf(micro.Unavailable, "grpc: client closed")
	case code == codes.Unimplemented && !fromHandler(st):
		// A server without micro.v1.Micro, in any language's words: no
		// route is there.
		return micro.Errorf(micro.NotFound, "grpc: %s", msg)
	default:
		return transport.ParseError(strconv.FormatUint(uint64(code), 10), msg)
	}
}
