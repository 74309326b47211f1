package grpc

import (
	"crypto/tls"
	"log/slog"
	"math"
	"net"

	grpclib "google.golang.org/grpc"

	"github.com/dancinggopher/micro"
)

// DefaultAddress is the address a Server listens on unless WithAddress or
// WithListener says otherwise.
const DefaultAddress = ":50051"

// Option configures a Server or a Client. Each option's doc says which side
// it applies to; the other side ignores it.
type Option func(*options)

type options struct {
	addr       string
	lis        net.Listener
	tls        *tls.Config
	max        int
	reflection bool
	log        *slog.Logger
	serverOpts []grpclib.ServerOption
	dialOpts   []grpclib.DialOption
}

func newOptions(opts []Option) options {
	o := options{addr: DefaultAddress, max: micro.DefaultMaxMessageSize, reflection: true}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithAddress sets the TCP address the Server listens on, such as
// "localhost:50051" or ":0" for a free port (read it with Server.Addr). The
// default is DefaultAddress. Server only.
func WithAddress(addr string) Option { return func(o *options) { o.addr = addr } }

// WithListener makes the Server serve on l instead of listening itself; the
// address option is then ignored. The Server closes l when it stops. Server
// only.
func WithListener(l net.Listener) Option { return func(o *options) { o.lis = l } }

// WithTLS secures the connection with cfg. On a Server, cfg holds the
// certificate; set ClientAuth and ClientCAs for mutual TLS. On a Client, cfg
// holds the roots to trust (RootCAs), the server name if it differs from the
// target's host, and for mutual TLS the client certificate. The default is
// plaintext on both sides. cfg must not be modified afterwards.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithMaxMessageSize sets the largest request or reply payload (the data
// bytes) in bytes: a payload of exactly n passes, a bigger one is answered
// with ResourceExhausted. The Client checks requests before sending and
// replies on receipt; the Server checks requests on receipt and replies
// before sending. gRPC's own message limits are set with room for the
// framing. The default is micro.DefaultMaxMessageSize. Server and Client.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.max = n } }

// WithReflection turns gRPC server reflection on or off; it is on by default,
// so that grpcurl can list and describe micro.v1.Micro. Server only.
func WithReflection(on bool) Option { return func(o *options) { o.reflection = on } }

// WithLogger sets the logger of the Server's lifecycle. The default is the
// Service's logger, micro.Logger of Start's ctx, which discards unless the
// Service has one. Server only.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithServerOptions passes options to grpc.NewServer, after the Server's own
// (credentials, message limits), so they can override them. Interceptors
// given here run around every call. Server only.
func WithServerOptions(opts ...grpclib.ServerOption) Option {
	return func(o *options) { o.serverOpts = append(o.serverOpts, opts...) }
}

// WithDialOptions passes options to grpc.NewClient, after the Client's own
// (credentials, message limits), so they can override them. Client only.
func WithDialOptions(opts ...grpclib.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// framing is the room gRPC's message limits leave beyond the payload limit,
// for the CallRequest's names and the protobuf field headers.
const framing = 64 << 10

// wireLimit returns gRPC's message limit for a payload limit of max.
func wireLimit(max int) int {
	if max > math.MaxInt32-framing { // gRPC's length prefix is 32 bits
		return math.MaxInt32
	}
	return max + framing
}
