// Package kafka serves a micro.Mux over Apache Kafka and calls services
// over it, using franz-go (github.com/twmb/franz-go/pkg/kgo).
//
// # Wire
//
// A route (namespace, service) is the topic "[prefix]namespace" with the
// record header "micro-service: service". The record value is the request
// body, other record headers are the request headers, and "micro-deadline"
// (Unix milliseconds) is the caller's deadline. A request that wants a reply
// carries "micro-reply-to" (a topic) and "micro-correlation-id"; the server
// produces the reply to that topic with the same correlation id, and an
// error as the headers "micro-error-code" (the code number) and
// "micro-error" (the message). Replies and dead letters are not compressed,
// so that clients with no compression codecs read them. So any Kafka
// producer reaches a service:
//
//	kcat -P -b localhost:9092 -t greeter -H micro-service=hello
//
// Headers follow the rules every micro transport shares (package
// transport): a record that carries one of the transport's own headers
// twice is refused with InvalidArgument, never routed by either value, and
// a reply topic named twice gets no reply.
//
// # Guarantees
//
// A Server consumes the topics of its Mux's namespaces in a consumer group
// and delivers at least once: the offset of a record is committed only
// after its handler returned and any reply or dead-letter record was
// acknowledged by the broker. Records of one partition are handled in
// order, one at a time; partitions are handled concurrently, up to a bound.
// When a partition moves to another member of the group (a member joins or
// leaves, or Stop), the record in flight finishes and what was handled is
// committed before the partition is released, so in normal operation no
// record is handled twice. A member that dies without Stop leaves the
// records it handled since its last commit to be handled again: at most
// its commit window (WithCommitWindow, 1000 by default), since a member
// handles a record only while fewer than that many are handled but not
// committed.
//
// A handler error with a retryable code is retried with backoff, as long as
// the backoff ends before the caller's deadline; after the last retry, or at
// once for other codes, the record goes to the dead-letter topic if one is
// configured, else it is logged and skipped; the error of a request-reply
// record is answered to its caller instead. A poison record never blocks
// its partition forever, and a reply or dead letter that cannot be
// delivered holds it at most WithProduceTimeout. The reply of a handler
// that Stop gave up on is still produced.
//
// Client.Send returns once the broker acknowledged the record (acks=all,
// idempotent producer). Client.Call produces the request with the client's
// own reply topic and waits for the matching reply or ctx's end.
package kafka
