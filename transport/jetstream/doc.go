// Package jetstream serves a micro.Mux from NATS JetStream streams and
// publishes to them, with at-least-once delivery: durable NATS.
//
// A route (namespace, service) is the subject "[prefix.]namespace.service",
// held by a stream; a Server consumes each namespace's subjects
// "[prefix.]namespace.*" with a durable pull consumer named after the
// Service, so every instance of the service shares its messages, and
// messages published while no server runs wait in the stream. Headers
// travel as NATS headers, the caller's deadline as Micro-Deadline (Unix
// milliseconds), as on core NATS. A request names a core NATS subject for
// its reply in Micro-Reply-To; the reply carries the handler's reply
// headers, or its error in the NATS services protocol's headers
// Nats-Service-Error-Code and Nats-Service-Error, as the NATS transport's.
//
// Guarantees. Client.Send returns once the stream acknowledged the
// message, published with a Nats-Msg-Id so that JetStream drops a retried
// publish within its duplicate window. A Server acknowledges a message only
// after its handler returned (and its reply was published); a handler
// error with a retryable code (Unavailable, ResourceExhausted, Aborted,
// DeadlineExceeded) is redelivered after a backoff (NakWithDelay) up to
// WithRetries times; any other error, or the last retry, terminates the
// message (Term) and, for a one-way message, publishes it to the
// WithDeadLetterSubject subject, awaiting JetStream's acknowledgement. No
// message is redelivered without bound. A handler that runs past half of
// AckWait extends its message (InProgress) so it is not redelivered while
// it runs. A message whose handler Stop cancelled is handed back (Nak)
// and redelivered, never dead-lettered.
//
// Order. By default a Server pulls messages in stream order, up to
// WithConcurrency at once, and handles them concurrently: they may finish
// out of order, and a retried message comes back after later ones. With
// WithStrictOrder a namespace's messages are handled one at a time in
// stream order, across every instance, retries included.
package jetstream
