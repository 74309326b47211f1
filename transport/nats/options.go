package nats

import (
	"log/slog"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
)

// DefaultQueueGroup is the queue group a Server subscribes in unless
// WithQueueGroup says otherwise; instances in one group share the load.
const DefaultQueueGroup = "micro"

// DefaultConcurrency is how many handlers a Server runs at once unless
// WithConcurrency says otherwise.
const DefaultConcurrency = 1024

// ServerOption configures a Server. An [Option] is one too.
type ServerOption interface{ applyServer(*serverOptions) }

// ClientOption configures a Client. An [Option] is one too.
type ClientOption interface{ applyClient(*clientOptions) }

// Option configures a Server or a Client alike: it is both a ServerOption
// and a ClientOption.
type Option interface {
	ServerOption
	ClientOption
}

// options are the settings both sides have.
type options struct {
	conn    natsconn.Config
	prefix  string
	maxSize int
}

type serverOptions struct {
	options
	queueGroup  string
	concurrency int
	log         *slog.Logger
	name        string
	version     string
}

type clientOptions struct {
	options
}

func defaults() options {
	return options{conn: natsconn.Config{URL: natsgo.DefaultURL}, maxSize: micro.DefaultMaxMessageSize}
}

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{options: defaults(), queueGroup: DefaultQueueGroup, concurrency: DefaultConcurrency, version: "0.0.0"}
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	return o
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{options: defaults()}
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	return o
}

type bothOption func(*options)

func (f bothOption) applyServer(o *serverOptions) { f(&o.options) }
func (f bothOption) applyClient(o *clientOptions) { f(&o.options) }

type serverOption func(*serverOptions)

func (f serverOption) applyServer(o *serverOptions) { f(o) }

// WithConn makes the Server or Client use nc, an open connection, instead of
// dialling its own. The caller keeps ownership: Stop and Close never close
// nc, and WithURL and WithConnOptions are ignored. The default is to dial.
func WithConn(nc *natsgo.Conn) Option { return bothOption(func(o *options) { o.conn.Conn = nc }) }

// WithURL sets the NATS server URL, or a comma-separated list of them, that
// the Server or Client dials: the url argument of nats.Connect. The default
// is nats.DefaultURL ("nats://127.0.0.1:4222").
func WithURL(url string) Option { return bothOption(func(o *options) { o.conn.URL = url }) }

// WithConnOptions passes options to nats.Connect when the Server or Client
// dials its own connection: TLS (nats.Secure, nats.RootCAs), credentials
// (nats.UserInfo, nats.Token, nats.UserCredentials, nats.Nkey), reconnect
// policy, and so on. They apply after the transport's defaults,
// nats.Name (the discovery name on a Server, "micro client" on a Client)
// and nats.MaxReconnects(-1), so they can override them. The default is
// none.
func WithConnOptions(opts ...natsgo.Option) Option {
	return bothOption(func(o *options) { o.conn.Options = append(o.conn.Options, opts...) })
}

// WithPrefix puts prefix and a dot in front of every subject, so a route is
// served on "prefix.namespace.service". The prefix is one or more
// '.'-separated tokens of [A-Za-z0-9_-]; NATS wildcards are refused, since
// "*" or ">" would receive every prefix's requests. An invalid prefix makes
// Start fail and NewClient return an InvalidArgument error. The default is
// no prefix. Server and Client must agree.
func WithPrefix(prefix string) Option { return bothOption(func(o *options) { o.prefix = prefix }) }

// WithMaxMessageSize sets the largest request or reply body in bytes; the
// default is micro.DefaultMaxMessageSize. A larger request is refused by the
// Client before it is sent and by the Server before a handler runs, a larger
// reply by the Server and by the Client, all with ResourceExhausted. The
// NATS server's max_payload (1 MiB unless configured; nats.Conn.MaxPayload)
// also bounds a message, headers included, and a message over it is
// ResourceExhausted too.
// A value of zero or less means the default.
func WithMaxMessageSize(n int) Option {
	return bothOption(func(o *options) { o.maxSize = sizeOrDefault(n) })
}

// WithQueueGroup sets the queue group the Server subscribes in (the queue
// argument of nats.Conn.QueueSubscribe); instances in the same group share
// requests, each request going to one of them. The default is
// DefaultQueueGroup ("micro").
func WithQueueGroup(group string) ServerOption {
	return serverOption(func(o *serverOptions) { o.queueGroup = group })
}

// WithConcurrency bounds how many handlers the Server runs at once; the
// default is DefaultConcurrency. A request that arrives while n handlers run
// is answered at once with ResourceExhausted, and a one-way message is
// dropped and counted (see [Server.Dropped]). Values below 1 mean 1. nats.go has no such setting:
// a subscription callback runs one message at a time, so the Server reads
// each namespace's subscription from a channel (of nats.SyncQueueLen
// messages, 65536 by default) with a pool of goroutines, each running one
// handler, and always one of them waiting for the next message.
func WithConcurrency(n int) ServerOption {
	return serverOption(func(o *serverOptions) { o.concurrency = max(n, 1) })
}

// WithLogger sets the logger of the Server: one-way messages whose handler
// failed or that were refused, replies it could not publish, a flush that
// failed at Stop. The default is the Service's logger (transport.Logger of
// Start's ctx), which discards unless the Service was given one. nats.go's
// own error callbacks are set with WithConnOptions (nats.ErrorHandler).
func WithLogger(l *slog.Logger) ServerOption {
	return serverOption(func(o *serverOptions) { o.log = l })
}

// WithServiceName sets the name under which the Server answers the NATS
// services protocol ($SRV.PING, $SRV.INFO, $SRV.STATS), as `nats micro ls`
// lists it, and the connection's nats.Name. The default is the Service's
// name (transport.ServiceName of Start's ctx) with every character outside
// [A-Za-z0-9_-] replaced by '_', or "micro" if that is empty. A name given
// here must match [A-Za-z0-9_-]+, or Start fails.
func WithServiceName(name string) ServerOption {
	return serverOption(func(o *serverOptions) { o.name = name })
}

// WithServiceVersion sets the version the Server reports in the NATS
// services protocol (the Version of nats.go micro's Config). It must be a
// semantic version, or Start fails; the default is "0.0.0".
func WithServiceVersion(v string) ServerOption {
	return serverOption(func(o *serverOptions) { o.version = v })
}

// sizeOrDefault is n, or micro.DefaultMaxMessageSize for n <= 0.
func sizeOrDefault(n int) int {
	if n <= 0 {
		return micro.DefaultMaxMessageSize
	}
	return n
}
