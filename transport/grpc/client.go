package grpc

import (
	"context"
	"fmt"
	"strings"
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

// callOptions are the options of every Call. StaticMethod tells gRPC's
// metrics that the method name is not user input, as generated code does.
var callOptions = []grpclib.CallOption{grpclib.StaticMethod()}

// NewClient returns a Client of the server at target, in grpc.NewClient's
// syntax ("localhost:50051", "dns:///svc.example:50051"). It does not
// connect: the connection is made by the first call and remade as needed.
// Without WithTLS the connection is plaintext.
func NewClient(target string, opts ...Option) (*Client, error) {
	o := newOptions(opts)
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dopts := append([]grpclib.DialOption{
		grpclib.WithTransportCredentials(creds),
		grpclib.WithDefaultCallOptions(grpclib.MaxCallRecvMsgSize(wireLimit(o.max))),
	}, o.dialOpts...)
	conn, err := grpclib.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("grpc: client of %s: %w", target, err)
	}
	return &Client{conn: conn, max: o.max}, nil
}

// Call sends req to (namespace, service) and returns the handler's reply. It
// blocks until the reply arrives or ctx ends. Headers set on ctx with
// micro.WithHeader travel as metadata, ctx's deadline as the gRPC deadline,
// and a reply Header asked for with micro.WithReplyHeader is filled from the
// reply's header metadata. Errors are *micro.Error: the handler's code and
// message, Unavailable if the server cannot be reached or the Client is
// closed, ResourceExhausted for a request or reply over the size limit.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	if len(req) > c.max {
		return nil, micro.Errorf(micro.ResourceExhausted, "grpc: request of %d bytes exceeds the limit of %d", len(req), c.max)
	}
	if c.closed.Load() {
		return nil, micro.Errorf(micro.Unavailable, "grpc: client closed")
	}
	header, replyHeader := transport.OutgoingHeader(ctx)
	if len(header) > 0 {
		ctx = withOutgoing(ctx, header)
	}
	msgs := &struct {
		req  microv1.CallRequest
		resp microv1.CallResponse
	}{req: microv1.CallRequest{Namespace: namespace, Service: service, Data: req}}
	var err error
	if replyHeader == nil {
		err = c.conn.Invoke(ctx, callMethod, &msgs.req, &msgs.resp, callOptions...)
	} else {
		var md metadata.MD
		err = c.conn.Invoke(ctx, callMethod, &msgs.req, &msgs.resp, grpclib.StaticMethod(), grpclib.Header(&md))
		for k, v := range toHeader(md) {
			replyHeader[k] = v
		}
	}
	if err != nil {
		return nil, c.callError(ctx, err)
	}
	if len(msgs.resp.Data) > c.max {
		return nil, micro.Errorf(micro.ResourceExhausted, "grpc: reply of %d bytes exceeds the limit of %d", len(msgs.resp.Data), c.max)
	}
	return msgs.resp.Data, nil
}

// Send is a Call whose reply is dropped. gRPC has no one-way message, so Send
// blocks until the handler returned and returns Call's error: unlike a
// one-way transport it reports NotFound and the handler's failure.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	_, err := c.Call(ctx, namespace, service, msg)
	return err
}

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

// callError turns an error of Invoke into a *micro.Error.
func (c *Client) callError(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return micro.Errorf(micro.Unavailable, "grpc: %w", err)
	}
	switch code, msg := st.Code(), st.Message(); {
	case code == codes.Canceled && ctx.Err() == nil && c.closed.Load():
		return micro.Errorf(micro.Unavailable, "grpc: client closed")
	case code == codes.Unimplemented && strings.Contains(msg, serviceDesc.ServiceName):
		// The server does not serve micro at all: no route is there.
		return micro.Errorf(micro.NotFound, "grpc: %s", msg)
	default:
		return &micro.Error{Code: micro.Code(code), Message: msg}
	}
}
