// Package http serves a micro.Mux over HTTP and calls micro services over
// it, on the standard library's net/http alone: importing it links no
// dependency beyond micro's root package. Import it under a name of its
// own beside net/http:
//
//	import microhttp "github.com/dancinggopher/micro/transport/http"
//
// The wire follows the Connect protocol's unary shape, so curl, a
// browser's fetch and Connect clients reach a micro service with no micro
// code:
//
//	curl --json '{"name":"World"}' localhost:8080/greeter/hello
//
// Guarantees:
//   - A route is POST /[prefix/]namespace/service; the body is the request
//     bytes and the 200 reply's body the handler's. The request's
//     Content-Type reaches the handler as the header "content-type"; the
//     reply's is the handler's "content-type" reply header, or else the
//     request's, as in Connect.
//   - Request headers reach the handler in micro.RequestInfo.Header by
//     micro's policy: lower-cased, repeats joined with ",", reserved and
//     hop-by-hop headers (and those Connection names) dropped. Reply
//     headers are response headers, also when the handler fails.
//   - The caller's deadline reaches the handler's ctx: Connect-Timeout-Ms
//     (milliseconds from receipt; what the Client sends) or Micro-Deadline
//     (Unix ms); with both, the earlier wins. A malformed or repeated one
//     is InvalidArgument; a deadline already passed is DeadlineExceeded
//     and the handler does not run. The caller hanging up cancels the
//     handler's ctx.
//   - An error is Connect's JSON body {"code":"not_found","message":"…"}
//     with Connect's status for the code (404 here); the message survives
//     byte for byte. An unknown route is NotFound, a malformed name
//     InvalidArgument, a body over the limit ResourceExhausted before the
//     handler runs, a handler panic Internal.
//   - Send is a one-way message (header Micro-One-Way: 1), answered 202
//     once the server admitted it; see Client.Send.
//   - GET /healthz answers 200 while the process serves; GET /readyz 200
//     until Stop begins and 503 from then on.
//
// A Server listens itself; a Handler mounts the same routes on an
// http.Server of yours. The package's README.md has the wire contract, the
// status table and examples for curl and fetch.
package http
