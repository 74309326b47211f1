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

// ServerOption configures a Server. Options that configure only a Client do
// not implement it, so giving one to NewServer does not compile.
type ServerOption interface{ applyServer(*serverOptions) }

// ClientOption configures a Client. Options that configure only a Server do
// not implement it, so giving one to NewClient does not compile.
type ClientOption interface{ applyClient(*clientOptions) }

// Option configures a Server or a Client: it is both a ServerOption and a
// ClientOption.
type Option interface {
	ServerOption
	ClientOption
}

// common are the settings of both sides.
type common struct {
	tls *tls.Config
	max int
}

type serverOptions struct {
	common
	addr       string
	lis        net.Listener
	reflection bool
	log        *slog.Logger
	grpc       []grpclib.ServerOption
}

type clientOptions struct {
	common
	dial []grpclib.DialOption
}

type (
	bothOption   func(*common)
	serverOption func(*serverOptions)
	clientOption func(*clientOptions)
)

func (f bothOption) applyServer(o *serverOptions)   { f(&o.common) }
func (f bothOption) applyClient(o *clientOptions)   { f(&o.common) }
func (f serverOption) applyServer(o *serverOptions) { f(o) }
func (f clientOption) applyClient(o *clientOptions) { f(o) }

// settle replaces a limit of n <= 0 by the default.
func (c *common) settle() {
	if c.max <= 0 {
		c.max = micro.DefaultMaxMessageSize
	}
}

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{common: common{max: micro.DefaultMaxMessageSize}, addr: DefaultAddress, reflection: true}
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	o.common.settle()
	return o
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{common: common{max: micro.DefaultMaxMessageSize}}
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	o.common.settle()
	return o
}

// WithTLS secures the connection with cfg; the default is plaintext on both
// sides. On a Server, cfg holds the certificate (set ClientAuth and
// ClientCAs for mutual TLS); it becomes grpc.Creds(credentials.NewTLS(cfg)).
// On a Client, cfg holds the roots to trust (RootCAs), the server name if it
// differs from the target's host, and for mutual TLS the client certificate;
// it becomes grpc.WithTransportCredentials(credentials.NewTLS(cfg)). cfg
// must not be modified afterwards.
func WithTLS(cfg *tls.Config) Option { return bothOption(func(o *common) { o.tls = cfg }) }

// WithMaxMessageSize sets the largest request or reply payload (the data
// bytes) in bytes: a payload of exactly n passes, a bigger one is answered
// with ResourceExhausted. The default, and the meaning of n <= 0, is
// micro.DefaultMaxMessageSize. The
// Client checks requests before sending and replies on receipt; the Server
// checks requests on receipt and replies before sending. gRPC's own limits,
// grpc.MaxRecvMsgSize and grpc.MaxSendMsgSize on the Server and
// grpc.MaxCallRecvMsgSize on the Client, are set to n plus 64 KiB for the
// framing.
func WithMaxMessageSize(n int) Option { return bothOption(func(o *common) { o.max = n }) }

// WithAddress sets the TCP address the Server listens on, such as
// "localhost:50051" or ":0" for a free port (read it with Server.Addr). The
// default is DefaultAddress.
func WithAddress(addr string) ServerOption {
	return serverOption(func(o *serverOptions) { o.addr = addr })
}

// WithListener makes the Server serve on l, given to grpc.Server.Serve,
// instead of listening itself; WithAddress is then ignored. The default is
// to listen on the address. The Server closes l when it stops.
func WithListener(l net.Listener) ServerOption {
	return serverOption(func(o *serverOptions) { o.lis = l })
}

// WithReflection turns gRPC server reflection (reflection.Register) on or
// off; it is on by default, so that grpcurl can list and describe
// micro.v1.Micro.
func WithReflection(on bool) ServerOption {
	return serverOption(func(o *serverOptions) { o.reflection = on })
}

// WithLogger sets the logger of the Server: its lifecycle, and the errors
// of one-way messages (Send). The default is the Service's logger
// (transport.Logger of Start's ctx), which discards unless the Service has
// one. grpc-go's own logging (grpclog) is not affected.
func WithLogger(l *slog.Logger) ServerOption {
	return serverOption(func(o *serverOptions) { o.log = l })
}

// WithServerOptions passes options to grpc.NewServer, after the Server's own
// (credentials, message limits), so they can override them. The default is
// none. Interceptors given here run around every call, and the values they
// put on the ctx reach the handler.
func WithServerOptions(opts ...grpclib.ServerOption) ServerOption {
	return serverOption(func(o *serverOptions) { o.grpc = append(o.grpc, opts...) })
}

// WithDialOptions passes options to grpc.NewClient, after the Client's own
// (credentials, message limit), so they can override them. The default is
// none.
func WithDialOptions(opts ...grpclib.DialOption) ClientOption {
	return clientOption(func(o *clientOptions) { o.dial = append(o.dial, opts...) })
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
