package grpc

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

const callMethod = "/micro.v1.Micro/Call"

// serviceDesc serves micro.v1.Micro by hand rather than through the
// generated MicroServer interface, so that a call decodes its request into
// the same allocation as its reply and its handler's base context.
var serviceDesc = grpclib.ServiceDesc{
	ServiceName: "micro.v1.Micro",
	HandlerType: (*any)(nil),
	Methods:     []grpclib.MethodDesc{{MethodName: "Call", Handler: handleCall}},
	Metadata:    "micro/v1/micro.proto",
}

// call is one call's state in one allocation.
type call struct {
	req  microv1.CallRequest // decoded into unless an interceptor runs
	resp microv1.CallResponse
	base values
}

// values is the base context of one call's handler: the Server's Base for
// cancellation (when Stop gives up on handlers), and for values the stream's
// context (peer, incoming metadata, what interceptors added) before Start's.
type values struct {
	context.Context                 // the Server's Base
	stream          context.Context // the gRPC stream's
}

func (v *values) Value(key any) any {
	if x := v.stream.Value(key); x != nil {
		return x
	}
	return v.Context.Value(key)
}

// AfterFunc lets contexts derived from v follow Base's cancellation without
// a goroutine each (see context.AfterFunc): the standard library's own
// lookup would find the stream's cancellation among v's values instead.
func (v *values) AfterFunc(f func()) func() bool { return context.AfterFunc(v.Context, f) }

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

// serve runs req through the Dispatcher with c's state and returns the
// reply or a status error. ctx is the stream's: for a Call its deadline and
// cancellation reach the handler; a one-way message gets neither.
func (s *Server) serve(ctx context.Context, c *call, req *microv1.CallRequest) (any, error) {
	if e := s.Gate().Enter(); e != nil {
		return nil, statusError(e)
	}
	defer s.Gate().Leave()
	r := transport.Request{Namespace: req.Namespace, Service: req.Service, Body: req.Data}
	md, _ := metadata.FromIncomingContext(ctx)
	readRequest(md, &r)
	if !r.OneWay {
		r.Caller = ctx
		r.Deadline, _ = ctx.Deadline()
	}
	c.base = values{Context: s.Base(), stream: ctx}
	reply := s.d.Serve(&c.base, &r)
	if len(reply.Header) > 0 && !r.OneWay {
		if err := grpclib.SetHeader(ctx, toMD(reply.Header)); err != nil {
			s.d.Logger.Warn("grpc: reply headers not sent", "namespace", req.Namespace, "service", req.Service, "err", err)
		}
	}
	if reply.Err != nil {
		return nil, statusError(reply.Err)
	}
	c.resp.Data = reply.Body
	return &c.resp, nil
}

// statusError returns e, in wire form (never OK), as a gRPC status with the
// same code number and message. Unimplemented carries handlerMark too.
func statusError(e *micro.Error) error {
	st := status.New(codes.Code(e.Code), e.Message)
	if e.Code == micro.Unimplemented {
		if marked, err := st.WithDetails(handlerMark); err == nil {
			st = marked
		}
	}
	return st.Err()
}

// handlerMark is the status detail with which a micro server marks an
// Unimplemented error as its handler's, so that the Client tells it apart
// from the Unimplemented of a gRPC server without micro.v1.Micro (which has
// no routes: NotFound) whatever the handler's message says.
var handlerMark = &errdetails.ErrorInfo{Reason: "HANDLER", Domain: "micro.v1.Micro"}

// fromHandler reports whether an Unimplemented status carries handlerMark.
func fromHandler(st *status.Status) bool {
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok && i.Reason == handlerMark.Reason && i.Domain == handlerMark.Domain {
			return true
		}
	}
	return false
}
