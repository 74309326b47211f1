// Package grpc serves a micro.Mux over gRPC and calls micro services over it.
//
// Every route is reached through one generic rpc, micro.v1.Micro/Call, whose
// request names the route (namespace, service) and carries the body as bytes;
// see proto/micro/v1/micro.proto. That contract is fixed, so clients in any
// language and tools such as grpcurl reach a micro service with no micro code.
//
// Guarantees:
//   - Call is request-reply: the reply is the handler's result, and the
//     handler's error arrives as a gRPC status whose code number and message
//     are the micro code and message (OK and codes outside 1 to 16 become
//     Unknown); the Client turns it back into a *micro.Error with the same
//     Code and Message. A handler's Unimplemented stays Unimplemented
//     whatever its message; a gRPC server without micro.v1.Micro is NotFound.
//   - Request headers travel as gRPC metadata and reach the handler in
//     micro.RequestInfo.Header by the header policy of micro.Header: keys
//     lower-cased, gRPC's and micro's own keys (":authority", "user-agent",
//     "te", "grpc-*", "micro-*", …) left out, a key sent with several values
//     joined by commas. The header content-type travels as metadata
//     micro-content-type, since gRPC's own content-type is its framing.
//     Reply headers set by the handler travel as gRPC response header
//     metadata (not trailers), also when the handler fails.
//   - The caller's deadline is the gRPC deadline and bounds the handler's
//     ctx; a Call without one gets micro.DefaultCallTimeout; a request whose
//     deadline has passed is not run. The caller's cancellation reaches the
//     handler's ctx, which is cancelled when the handler returns.
//   - The handler's ctx carries the values of the gRPC stream's context
//     (the peer, interceptors' values) before those of Start's ctx.
//   - An unknown route is NotFound; a malformed namespace or service is
//     InvalidArgument; a request or reply over the size limit is
//     ResourceExhausted; a handler panic is Internal and the server keeps
//     serving; a server that cannot be reached is Unavailable.
//   - Send is a call marked one-way (metadata micro-one-way: 1): its handler
//     gets no deadline and no cancellation from the caller, and the server
//     logs its failure. gRPC has no other acknowledgement than the reply, so
//     Send returns once the handler returned, with its error.
//   - The server registers the standard health service (SERVING while it
//     runs, NOT_SERVING once Stop begins) and, unless turned off, server
//     reflection.
//
// Options are typed by side: a ServerOption configures NewServer, a
// ClientOption NewClient, and an Option either.
package grpc

//go:generate sh proto/gen.sh
