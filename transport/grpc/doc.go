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
//     are the micro code and message; the Client turns it back into a
//     *micro.Error with the same Code and Message.
//   - Request headers travel as gRPC metadata and reach the handler in
//     micro.RequestInfo.Header, keys lower-cased, without gRPC's own keys
//     (":authority", "content-type", "user-agent", "te", "grpc-*"). A key sent
//     with several values arrives joined by commas. Reply headers set by the
//     handler travel as gRPC response header metadata (not trailers), also
//     when the handler fails.
//   - The caller's deadline is the gRPC deadline and bounds the handler's
//     ctx; a request whose deadline has passed is not run.
//   - An unknown route is NotFound; a malformed namespace or service is
//     InvalidArgument; a request or reply over the size limit is
//     ResourceExhausted; a handler panic is Internal and the server keeps
//     serving; a server that cannot be reached is Unavailable.
//   - Send is a Call whose reply is dropped: gRPC has no one-way message, so
//     Send returns once the handler returned, with its error.
//   - The server registers the standard health service (SERVING while it
//     runs, NOT_SERVING once Stop begins) and, unless turned off, server
//     reflection.
package grpc

//go:generate sh proto/gen.sh
