// Package nats serves a micro.Mux over NATS and calls services over it.
//
// A route (namespace, service) is served on the subject
// "[prefix.]namespace.service" in a queue group (default "micro"), so
// instances of a service share its requests and any NATS client can call
// it: `nats req greeter.hello '{"name":"World"}'`. Request headers travel as
// NATS headers, the caller's deadline as the header Micro-Deadline (Unix
// milliseconds), and a handler's error as the NATS services protocol's
// headers Nats-Service-Error-Code (the micro.Code number) and
// Nats-Service-Error (the message, with '%', control bytes and outer spaces
// written as %XX, so that it arrives byte-identical and ordinary text reads
// unchanged). The server answers the services protocol ($SRV.PING,
// $SRV.INFO, $SRV.STATS), so `nats micro ls` lists it.
//
// Options are typed by side: [ServerOption] for NewServer, [ClientOption]
// for NewClient, and [Option] for settings both take.
//
// Guarantees. Call is request-reply: the reply is the handler's result, or
// a typed *micro.Error; it never waits past its deadline, and a subject no
// server subscribes to fails at once. Send is a core NATS publish: at most
// once, with no acknowledgement from the handler. Handlers run concurrently,
// up to a bound past which requests are refused with ResourceExhausted
// rather than queued. NATS carries no cancellation: a caller that gives up
// gets Canceled at once, while its handler runs on to the deadline. Stop
// loses no reply: it unsubscribes, serves what was
// already delivered, waits for in-flight handlers and flushes their replies
// before it closes the connection. nats.go reconnects after a NATS server
// restart and the server's subscriptions are restored with it.
package nats
