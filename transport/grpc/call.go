package grpc

import (
	"context"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
	"github.com/dancinggopher/micro/transport"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

const callMethod = "/micro.v1.Micro/Call"

// serviceDesc serves micro.v1.Micro by hand rather than through the
// generated MicroServer interface, so that a call decodes its request into
// the same allocation as its handler context and reply.
var serviceDesc = grpclib.ServiceDesc{
	ServiceName: "micro.v1.Micro",
	HandlerType: (*any)(nil),
	Methods:     []grpclib.MethodDesc{{MethodName: "Call", Handler: handleCall}},
	Metadata:    "micro/v1/micro.proto",
}

// call is one call's state in one allocation: the handler's context, the
// decoded request and the reply.
type call struct {
	context.Context // the gRPC stream's: deadline, cancellation, peer, metadata
	base            context.Context
	info            micro.RequestInfo
	req             microv1.CallRequest
	resp            microv1.CallResponse
}

// Value answers ctxkey.Info with the call's RequestInfo, then looks in the
// stream's context, then in the values of the Server's Start ctx.
func (c *call) Value(key any) any {
	if key == ctxkey.Info {
		return &c.info
	}
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.base.Value(key)
}

// handleCall is the method handler of Call. Like generated code, it decodes
// the request and hands it to the server's interceptor, if there is one.
func handleCall(srv any, ctx context.Context, dec func(any) error, interceptor grpclib.UnaryServerInterceptor) (any, error) {
	s := srv.(*Server)
	if interceptor == nil {
		c := new(call)
		if err := dec(&c.req); err != nil {
			return nil, err
		}
		return s.serve(ctx, c, &c.req)
	}
	req := new(microv1.CallRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	return interceptor(ctx, req, s.info, s.handle)
}

// serveIntercepted is the handler an interceptor calls.
func (s *Server) serveIntercepted(ctx context.Context, req any) (any, error) {
	r, ok := req.(*microv1.CallRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grpc: interceptor passed a %T to micro.v1.Micro/Call", req)
	}
	return s.serve(ctx, new(call), r)
}

// serve checks req, runs its handler in c and returns the reply or a status
// error.
func (s *Server) serve(ctx context.Context, c *call, req *microv1.CallRequest) (any, error) {
	switch {
	case !transport.ValidName(req.Namespace):
		return nil, status.Errorf(codes.InvalidArgument, "grpc: invalid namespace %q (want [A-Za-z0-9_-]+)", req.Namespace)
	case !transport.ValidName(req.Service):
		return nil, status.Errorf(codes.InvalidArgument, "grpc: invalid service %q (want [A-Za-z0-9_-]+)", req.Service)
	case len(req.Data) > s.opts.max:
		return nil, status.Errorf(codes.ResourceExhausted, "grpc: request of %d bytes exceeds the limit of %d", len(req.Data), s.opts.max)
	}
	c.Context, c.base = ctx, s.base
	c.info = micro.RequestInfo{
		Namespace:   req.Namespace,
		Service:     req.Service,
		Transport:   "grpc",
		Header:      toHeader(incoming(ctx)),
		ReplyHeader: micro.Header{},
	}
	data, err := s.mux.Serve(c, req.Namespace, req.Service, req.Data)
	if len(c.info.ReplyHeader) > 0 {
		if err := grpclib.SetHeader(ctx, toMD(c.info.ReplyHeader)); err != nil {
			s.log.WarnContext(c, "grpc: reply headers not sent", "namespace", req.Namespace, "service", req.Service, "err", err)
		}
	}
	if err != nil {
		return nil, statusError(err)
	}
	if len(data) > s.opts.max {
		return nil, status.Errorf(codes.ResourceExhausted, "grpc: reply of %d bytes exceeds the limit of %d", len(data), s.opts.max)
	}
	c.resp.Data = data
	return &c.resp, nil
}

// statusError returns a handler's error as a gRPC status with the micro code
// and message. A code of OK, which would read as success, becomes Unknown.
func statusError(err error) error {
	e := transport.ErrorOf(err)
	code := codes.Code(e.Code)
	if code == codes.OK {
		code = codes.Unknown
	}
	return status.Error(code, e.Message)
}
