package micro

import (
	"context"
	"errors"
	"time"
)

// DefaultMaxMessageSize is the largest request or reply, in bytes, that a
// transport accepts unless configured otherwise: 4 MiB. Bigger messages are
// answered with ResourceExhausted.
const DefaultMaxMessageSize = 4 << 20

// DefaultCallTimeout bounds a Call whose ctx has no deadline, on every
// transport: the handler sees that deadline, and the caller gets
// DeadlineExceeded when it passes. A deadline on ctx always wins.
const DefaultCallTimeout = 30 * time.Second

// ErrServerStopped is returned by a Server's Start when Stop was called
// before it, or when the Server has already served and stopped: a Server
// runs once.
var ErrServerStopped = errors.New("micro: server stopped")

// Server serves a Mux over one transport. The contract is the same for every
// transport, and microtest checks it:
//
// Start binds or subscribes, then serves until Stop is called, and returns
// nil after Stop, or the error that ended serving. A setup error (a port in
// use, a broker that cannot be reached) is returned by Start, not logged; ctx
// bounds setup and its values reach the handlers, but cancelling ctx once
// serving does not stop the server: Stop does.
//
// Stop stops taking new work, lets in-flight handlers finish until ctx ends
// (then cancels their contexts and returns ctx's error without waiting
// longer), and releases what Start acquired. It is idempotent, safe to call
// concurrently, and safe to call before or during Start: during Start's
// setup it cancels the setup and Start returns nil; before Start, Start then
// returns [ErrServerStopped]. A second Stop waits for the first's work,
// handlers it gave up on included, as long as its own ctx allows. A Server
// is started at most once.
type Server interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Readier is implemented by a Server that can tell when it accepts work.
// Ready returns a channel that is closed once Start has bound or subscribed.
// Service.Ready waits on it.
type Readier interface {
	Ready() <-chan struct{}
}

// Client calls services over one transport. It is safe for concurrent use.
// Request headers set on ctx with WithHeader travel with each message, and
// ctx's deadline reaches the handler on transports with a reply path.
type Client interface {
	// Call sends req to (namespace, service) and returns the handler's reply.
	// A handler's error comes back as an *Error with its code and message.
	Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error)
	// Send delivers msg to (namespace, service) one way and returns once the
	// transport accepted it; the handler's reply is dropped. What "accepted"
	// means is the transport's: admitted by the server (inproc), buffered
	// for publishing (NATS), acknowledged by the broker (Kafka), or answered
	// by the handler, whose error Send then returns (gRPC, which has no
	// other acknowledgement).
	Send(ctx context.Context, namespace, service string, msg []byte) error
	// Close releases the client's resources. Calls after Close fail.
	Close() error
}
