// Package transport is the kit a micro transport is built from. A service
// author never needs it; a transport author uses nothing else to get micro's
// semantics right.
//
// The rules every transport shares live here, once:
//
//   - [Dispatcher.Serve] runs one request on the Mux: the size limit, the
//     caller's deadline, the handler's context (cancelled when the handler
//     returns), nil errors, codes outside gRPC's range, the reply size limit
//     and the reply-header check. A server maps its medium's message to a
//     [Request], calls Serve, and maps the [Reply] back.
//   - [Prepare] and [CallContext] are what a client does before sending:
//     route names, size, the header policy, the default deadline. [Result]
//     is what it does with the answer.
//   - The wire codec: [WireError] and [ParseError] turn an error into code
//     and message strings and back, [FormatDeadline] and [ParseDeadline] a
//     deadline into Unix milliseconds and back, [EscapeValue] and
//     [UnescapeValue] carry any message in a header that cannot hold every
//     byte.
//   - The header policy: [CheckHeader], [Reserved] and [HeaderReader], so
//     that every transport accepts, refuses and joins headers alike.
//
// The Server contract itself (start once, stop before, during or after
// start, drain, a second Stop) is implemented once in the module's
// internal/lifecycle package, which the transports of this module embed.
package transport
