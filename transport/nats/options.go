package nats

import (
	"log/slog"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
)

// DefaultQueueGroup is the queue group a Server subscribes in unless
// WithQueueGroup says otherwise; instances in one group share the load.
const DefaultQueueGroup = "micro"

// DefaultConcurrency is how many handlers a Server runs at once unless
// WithConcurrency says otherwise.
const DefaultConcurrency = 1024

// DefaultTimeout bounds a Call whose ctx has no deadline, unless WithTimeout
// says otherwise.
const DefaultTimeout = 30 * time.Second

// Option configures a Server or a Client. Each option's doc says which side
// it applies to; the other side ignores it.
type Option func(*options)

type options struct {
	conn        *natsgo.Conn
	url         string
	connOpts    []natsgo.Option
	prefix      string
	queueGroup  string
	concurrency int
	maxSize     int
	timeout     time.Duration
	log         *slog.Logger
	name        string
	version     string
}

func newOptions(opts []Option) options {
	o := options{
		url:         natsgo.DefaultURL,
		queueGroup:  DefaultQueueGroup,
		concurrency: DefaultConcurrency,
		maxSize:     micro.DefaultMaxMessageSize,
		timeout:     DefaultTimeout,
		version:     "0.0.0",
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithConn makes the Server or Client use nc, an open connection, instead of
// dialling its own. The caller keeps ownership: Stop and Close never close
// nc. WithURL and WithConnOptions are then ignored. Both sides.
func WithConn(nc *natsgo.Conn) Option { return func(o *options) { o.conn = nc } }

// WithURL sets the NATS server URL, or a comma-separated list of them, that
// the Server or Client dials; the default is nats.DefaultURL
// ("nats://127.0.0.1:4222"). Both sides.
func WithURL(url string) Option { return func(o *options) { o.url = url } }

// WithConnOptions passes options to nats.Connect when the Server or Client
// dials its own connection: TLS (nats.Secure, nats.RootCAs), credentials
// (nats.UserInfo, nats.Token, nats.UserCredentials, nats.Nkey), reconnect
// policy, and so on. They apply after the transport's defaults (a connection
// name and unlimited reconnects), so they can override them. Both sides.
func WithConnOptions(opts ...natsgo.Option) Option {
	return func(o *options) { o.connOpts = append(o.connOpts, opts...) }
}

// WithPrefix puts prefix and a dot in front of every subject, so a route is
// served on "prefix.namespace.service"; prefix may itself contain dots. The
// default is no prefix. Server and Client must agree. Both sides.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithQueueGroup sets the queue group the Server subscribes in; instances in
// the same group share requests, each request going to one of them. The
// default is DefaultQueueGroup ("micro"). Server only.
func WithQueueGroup(group string) Option { return func(o *options) { o.queueGroup = group } }

// WithConcurrency bounds how many handlers the Server runs at once; the
// default is DefaultConcurrency. A request that arrives while n handlers run
// is answered at once with ResourceExhausted, and a one-way message is
// dropped and logged. Values below 1 mean 1. Server only.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = max(n, 1) } }

// WithMaxMessageSize sets the largest request or reply payload in bytes;
// the default is micro.DefaultMaxMessageSize. A larger request is refused by
// the Client before it is sent, a larger reply is answered by the Server with
// ResourceExhausted. The NATS server's max_payload (1 MiB unless configured)
// also bounds a message, headers included; a message over it is
// ResourceExhausted too. Both sides.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.maxSize = n } }

// WithTimeout bounds a Call whose ctx has no deadline; the default is
// DefaultTimeout. A ctx deadline always wins. Client only.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLogger sets the logger of the Server: one-way messages whose handler
// failed or that were dropped at the concurrency bound, and replies it could
// not publish. The default is the Service's logger, micro.Logger of Start's
// ctx. Server only.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithServiceName sets the name under which the Server answers the NATS
// services protocol ($SRV.PING, $SRV.INFO, $SRV.STATS), as `nats micro ls`
// lists it. The default is the Service's name, micro.ServiceName of Start's
// ctx, with every character outside [A-Za-z0-9_-] replaced by '_', or
// "micro" if that is empty. A name given here must match [A-Za-z0-9_-]+, or
// Start fails. Server only.
func WithServiceName(name string) Option { return func(o *options) { o.name = name } }

// WithServiceVersion sets the version the Server reports in the NATS
// services protocol. It must be a semantic version, or Start fails; the
// default is "0.0.0". Server only.
func WithServiceVersion(v string) Option { return func(o *options) { o.version = v } }
