package jetstream

import (
	"log/slog"
	"slices"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// ServerOption configures a [Server]. Options that configure a [Client]
// only do not compile here.
type ServerOption interface{ applyServer(*serverOptions) }

// ClientOption configures a [Client]. Options that configure a [Server]
// only do not compile here.
type ClientOption interface{ applyClient(*clientOptions) }

// Option configures both sides: the connection, the subjects and the size
// limit, on which a Server and its Clients must agree.
type Option interface {
	ServerOption
	ClientOption
}

// Defaults of the options.
const (
	DefaultConcurrency   = 512                      // WithConcurrency: handlers at once per stream consumed
	DefaultRetries       = transport.DefaultRetries // WithRetries: redeliveries after the first
	DefaultBackoff       = transport.DefaultBackoff // WithRetries: delay before the first redelivery
	DefaultAckWait       = 30 * time.Second         // WithAckWait: JetStream's own default
	DefaultMaxAckPending = 1000                     // WithMaxAckPending: JetStream's own default
	fetchWait            = time.Second              // how long one pull waits; bounds how long Stop waits for intake to end
	// redeliveries is how many deliveries beyond the retries a message may
	// take without its handler failing: Stop cancelling it, a crash, a
	// lost connection. Past them it is dead-lettered without running.
	redeliveries = 4
)

// common are the settings of both sides.
type common struct {
	conn   natsconn.Config
	jsOpts []natsjs.JetStreamOpt
	prefix string
	max    int
}

type serverOptions struct {
	common
	log           *slog.Logger
	durable       string
	create        bool
	retention     natsjs.RetentionPolicy
	replicas      int
	storage       natsjs.StorageType
	streamConfig  []func(*natsjs.StreamConfig)
	consumerCfg   []func(*natsjs.ConsumerConfig)
	concurrency   int
	maxAckPending int
	ackWait       time.Duration
	retry         transport.RetryPolicy
	deadLetter    string
	strictOrder   bool
}

type clientOptions struct {
	common
}

func newCommon() common {
	return common{conn: natsconn.Config{URL: natsgo.DefaultURL}, max: micro.DefaultMaxMessageSize}
}

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{
		common:        newCommon(),
		retention:     natsjs.LimitsPolicy,
		replicas:      1,
		storage:       natsjs.FileStorage,
		concurrency:   DefaultConcurrency,
		maxAckPending: DefaultMaxAckPending,
		ackWait:       DefaultAckWait,
		retry:         transport.DefaultRetryPolicy(),
	}
	for _, f := range opts {
		f.applyServer(&o)
	}
	if o.strictOrder {
		o.concurrency, o.maxAckPending = 1, 1
	}
	return o
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{common: newCommon()}
	for _, f := range opts {
		f.applyClient(&o)
	}
	return o
}

// both is an Option that sets a common setting.
type both func(*common)

func (f both) applyServer(o *serverOptions) { f(&o.common) }
func (f both) applyClient(o *clientOptions) { f(&o.common) }

// serverOnly is a ServerOption.
type serverOnly func(*serverOptions)

func (f serverOnly) applyServer(o *serverOptions) { f(o) }

// WithConn makes the Server or Client use nc, an open connection, instead
// of dialling its own. The caller keeps ownership: Stop and Close never
// close nc. WithURL and WithConnOptions are then ignored.
func WithConn(nc *natsgo.Conn) Option { return both(func(o *common) { o.conn.Conn = nc }) }

// WithURL sets the NATS server URL, or a comma-separated list of them, to
// dial; the default is nats.DefaultURL ("nats://127.0.0.1:4222").
func WithURL(url string) Option { return both(func(o *common) { o.conn.URL = url }) }

// WithConnOptions passes options to nats.Connect when the Server or Client
// dials its own connection: TLS, credentials, reconnect policy. They apply
// after the transport's defaults (a connection name, unlimited
// reconnects), so they can override them.
func WithConnOptions(opts ...natsgo.Option) Option {
	return both(func(o *common) { o.conn.Options = append(o.conn.Options, opts...) })
}

// WithJetStreamOptions passes options to jetstream.New: a JetStream domain
// or API prefix (jetstream.WithDomain), the default timeout of JetStream
// API requests, and so on. The default is none.
func WithJetStreamOptions(opts ...natsjs.JetStreamOpt) Option {
	return both(func(o *common) { o.jsOpts = append(o.jsOpts, opts...) })
}

// WithPrefix puts prefix and a dot in front of every subject, so a route
// is the subject "prefix.namespace.service"; prefix may itself contain
// dots, each token [A-Za-z0-9_-]+. The default is no prefix. Server and
// Client must agree.
func WithPrefix(prefix string) Option { return both(func(o *common) { o.prefix = prefix }) }

// WithMaxMessageSize sets the largest request or reply payload in bytes;
// the default is micro.DefaultMaxMessageSize. The Client refuses a larger
// request, the Server answers a larger reply with ResourceExhausted. The
// NATS server's max_payload (1 MiB unless configured) and the stream's
// max_msg_size also bound a message, headers included; a message over
// either is ResourceExhausted too.
// A value of zero or less means the default.
func WithMaxMessageSize(n int) Option { return both(func(o *common) { o.max = sizeOrDefault(n) }) }

// WithLogger sets the Server's logger: messages that failed for good,
// dead letters, replies and acknowledgements that could not be sent. The
// default is the Service's logger (transport.Logger of Start's ctx).
func WithLogger(l *slog.Logger) ServerOption { return serverOnly(func(o *serverOptions) { o.log = l }) }

// WithDurable sets the name of the Server's durable consumers (JetStream's
// ConsumerConfig.Durable), one on each stream it consumes; every instance
// of a service with the same name shares their messages. The default is
// the name of the Service that runs the server (transport.ServiceName of
// Start's ctx) with every character outside [A-Za-z0-9_-] replaced by '_';
// Start fails if there is neither.
func WithDurable(name string) ServerOption {
	return serverOnly(func(o *serverOptions) { o.durable = name })
}

// WithCreateStream makes Start create the stream of a namespace that no
// stream holds: named as the namespace's subjects without their wildcard,
// dots turned into '_' ("greeter", or "acme_greeter" with the prefix
// "acme"), holding "[prefix.]namespace.*", with the retention, replicas and
// storage of the options below and JetStream's defaults otherwise (no
// limits, a duplicate window of 2 minutes). It creates a stream for the
// dead-letter subject the same way. Without it (the default), Start fails
// naming the stream that is missing. An existing stream is used as it is.
func WithCreateStream() ServerOption { return serverOnly(func(o *serverOptions) { o.create = true }) }

// WithStreamRetention sets the retention of the streams Start creates
// (StreamConfig.Retention). The default is jetstream.LimitsPolicy: messages
// stay until the stream's limits remove them, so consumers of other
// services can read them too; jetstream.WorkQueuePolicy removes a message
// once acknowledged, and allows one consumer per subject.
func WithStreamRetention(p natsjs.RetentionPolicy) ServerOption {
	return serverOnly(func(o *serverOptions) { o.retention = p })
}

// WithStreamReplicas sets the replicas of the streams Start creates
// (StreamConfig.Replicas). The default is 1.
func WithStreamReplicas(n int) ServerOption {
	return serverOnly(func(o *serverOptions) { o.replicas = max(n, 1) })
}

// WithStreamStorage sets the storage of the streams Start creates
// (StreamConfig.Storage). The default is jetstream.FileStorage.
func WithStreamStorage(t natsjs.StorageType) ServerOption {
	return serverOnly(func(o *serverOptions) { o.storage = t })
}

// WithStreamConfig lets f change the configuration of a stream before
// Start creates it, for what no option here sets: MaxAge, MaxMsgSize,
// Duplicates (the window in which a repeated Nats-Msg-Id is dropped) and
// so on. The default changes nothing.
func WithStreamConfig(f func(*natsjs.StreamConfig)) ServerOption {
	return serverOnly(func(o *serverOptions) { o.streamConfig = append(o.streamConfig, f) })
}

// WithConsumerConfig lets f change the configuration of a durable consumer
// before Start creates or updates it, for what no option here sets
// (InactiveThreshold, Metadata, ...). Changing AckPolicy, MaxDeliver or
// AckWait breaks the guarantees. The default changes nothing.
func WithConsumerConfig(f func(*natsjs.ConsumerConfig)) ServerOption {
	return serverOnly(func(o *serverOptions) { o.consumerCfg = append(o.consumerCfg, f) })
}

// WithConcurrency bounds how many handlers a Server runs at once for each
// stream it consumes (each namespace, unless one stream holds several); it
// pulls no more messages than it has free handlers, so a message never
// waits in the process for a free one (it waits for at most 100 µs behind
// a handler of its pull that runs on the goroutine reading the pull, before
// another goroutine takes the pull over). The default is DefaultConcurrency;
// values below 1 mean 1.
func WithConcurrency(n int) ServerOption {
	return serverOnly(func(o *serverOptions) { o.concurrency = max(n, 1) })
}

// WithMaxAckPending bounds the messages of a consumer delivered and not yet
// acknowledged, across every instance of the service
// (ConsumerConfig.MaxAckPending). The default is DefaultMaxAckPending.
func WithMaxAckPending(n int) ServerOption {
	return serverOnly(func(o *serverOptions) { o.maxAckPending = max(n, 1) })
}

// WithAckWait sets how long JetStream waits for a message's
// acknowledgement before it redelivers it (ConsumerConfig.AckWait). A
// handler that runs longer than half of it has its message extended with
// InProgress, so it is not redelivered while it runs. The default is
// DefaultAckWait.
func WithAckWait(d time.Duration) ServerOption {
	return serverOnly(func(o *serverOptions) {
		if d > 0 {
			o.ackWait = d
		}
	})
}

// WithRetries sets how many times a message whose handler failed with a
// retryable code is redelivered, and the delay before the first
// redelivery (NakWithDelay), doubled for each next one up to 5s
// (transport.MaxBackoff). The default is DefaultRetries after
// DefaultBackoff; WithRetries(0, 0) turns retries off. A message past its
// own deadline is never retried.
//
// Retries are counted by JetStream's delivery count, which also counts
// deliveries that ended without a failure (a Stop that gave up on the
// handler, a crash, a lost connection): a message is retried while it has
// been delivered at most n times. A message is never run more than n+5
// times: one delivered more often is dead-lettered without running, as
// one whose handler takes the process down would be. The consumer's
// MaxDeliver is n+6, a bound JetStream keeps even without this Server.
func WithRetries(n int, backoff time.Duration) ServerOption {
	return serverOnly(func(o *serverOptions) { o.retry.Retries, o.retry.Backoff = max(n, 0), max(backoff, 0) })
}

// WithRetryableCodes sets the handler error codes that a Server retries;
// none turns retries off. The default is transport.DefaultRetryableCodes
// (Unavailable, ResourceExhausted, Aborted and DeadlineExceeded), as the
// Kafka transport's.
func WithRetryableCodes(codes ...micro.Code) ServerOption {
	return serverOnly(func(o *serverOptions) { o.retry.Codes = slices.Clone(codes) })
}

// WithDeadLetterSubject sets the subject to which a Server publishes a
// one-way message that failed for good, awaiting JetStream's
// acknowledgement: its data and headers (without JetStream's Nats-*
// publish headers), plus Nats-Service-Error-Code, Nats-Service-Error and
// Micro-Subject, Micro-Stream, Micro-Sequence naming where it came from, and
// Micro-Deliveries, how often it was delivered.
// A stream must hold the subject (see [WithCreateStream]), and it must not
// be one the Server consumes. The subject is used as given, without the
// prefix. The default is none: such messages are logged and terminated.
func WithDeadLetterSubject(subject string) ServerOption {
	return serverOnly(func(o *serverOptions) { o.deadLetter = subject })
}

// WithStrictOrder makes a Server handle the messages of each stream one at
// a time, in stream order, across every instance of the service, retries
// included: it sets MaxAckPending to 1 and the concurrency to 1. The
// default handles messages concurrently; see the package doc for the order
// it keeps.
func WithStrictOrder() ServerOption {
	return serverOnly(func(o *serverOptions) { o.strictOrder = true })
}

// sizeOrDefault is n, or micro.DefaultMaxMessageSize for n <= 0.
func sizeOrDefault(n int) int {
	if n <= 0 {
		return micro.DefaultMaxMessageSize
	}
	return n
}
