package http

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The defaults of a Server, each named in the doc of the option that
// changes it.
const (
	DefaultAddress           = ":8080"
	DefaultConcurrency       = 1024
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultWriteTimeout      = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultMaxHeaderBytes leaves room for micro's largest header set (64
	// headers of a 128-byte key and a 4096-byte value) and a proxy's own.
	DefaultMaxHeaderBytes = 512 << 10
)

// ServerOption configures a Server or a Handler. Options that concern the
// listener or net/http's own server say "NewServer only": a Handler, which
// runs on an http.Server of yours, ignores them.
type ServerOption interface{ applyServer(*serverConfig) }

// ClientOption configures a Client.
type ClientOption interface{ applyClient(*clientConfig) }

// Option configures both sides: a Server or Handler, and a Client.
type Option interface {
	ServerOption
	ClientOption
}

// common is what both sides are configured with.
type common struct {
	prefix string // "" or "/a/b", validated by checkPrefix
	max    int
	tls    *tls.Config
}

type serverConfig struct {
	common
	addr              string
	lis               net.Listener
	log               *slog.Logger
	concurrency       int
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	drainDelay        time.Duration
	origins           []string
	routes            bool
}

type clientConfig struct {
	common
	rt http.RoundTripper
}

func newServerConfig(opts []ServerOption) serverConfig {
	c := serverConfig{
		common:      common{max: micro.DefaultMaxMessageSize},
		addr:        DefaultAddress,
		concurrency: DefaultConcurrency, readHeaderTimeout: DefaultReadHeaderTimeout,
		readTimeout: DefaultReadTimeout, writeTimeout: DefaultWriteTimeout,
		idleTimeout: DefaultIdleTimeout, maxHeaderBytes: DefaultMaxHeaderBytes,
	}
	for _, o := range opts {
		o.applyServer(&c)
	}
	return c
}

func newClientConfig(opts []ClientOption) clientConfig {
	c := clientConfig{common: common{max: micro.DefaultMaxMessageSize}}
	for _, o := range opts {
		o.applyClient(&c)
	}
	return c
}

type serverOption func(*serverConfig)

func (f serverOption) applyServer(c *serverConfig) { f(c) }

type clientOption func(*clientConfig)

func (f clientOption) applyClient(c *clientConfig) { f(c) }

type sharedOption func(*common)

func (f sharedOption) applyServer(c *serverConfig) { f(&c.common) }
func (f sharedOption) applyClient(c *clientConfig) { f(&c.common) }

// WithPrefix puts every route under a path prefix: with "api/v1" the route
// (greeter, hello) is POST /api/v1/greeter/hello. The prefix is one or more
// segments of [A-Za-z0-9_-] separated by "/"; leading and trailing slashes
// are ignored. A malformed prefix makes Start fail, NewHandler panic and
// NewClient return an error, each naming it. The health endpoints stay at
// the root. The default is no prefix.
func WithPrefix(prefix string) Option {
	return sharedOption(func(c *common) { c.prefix = strings.Trim(prefix, "/") })
}

// checkPrefix returns prefix as a path ("/api/v1", or "" for none), or an
// error naming it.
func checkPrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		if !transport.ValidName(seg) {
			return "", micro.Errorf(micro.InvalidArgument, "http: invalid prefix %q (want segments of [A-Za-z0-9_-]+ separated by /)", prefix)
		}
	}
	return "/" + prefix, nil
}

// WithMaxMessageSize sets the largest request or reply body in bytes: a
// body of exactly n passes, a bigger one is answered with
// ResourceExhausted. The Client checks requests before sending and replies
// on receipt; the Server refuses a request whose Content-Length is over the
// limit before reading it, reads any other through http.MaxBytesReader, and
// checks replies before sending. The default is
// micro.DefaultMaxMessageSize (4 MiB).
// A value of zero or less means the default.
func WithMaxMessageSize(n int) Option {
	return sharedOption(func(c *common) { c.max = sizeOrDefault(n) })
}

// WithTLS serves or calls over HTTPS with cfg, which must not be modified
// afterwards. On a Server it holds the certificate (ClientAuth and
// ClientCAs for mutual TLS) and becomes http.Server.TLSConfig; HTTP/2 is
// negotiated by ALPN. On a Client it holds the roots to trust and, for
// mutual TLS, the client certificate, and becomes the transport's
// TLSClientConfig; a target without a scheme then means https. The default
// is plaintext HTTP/1.1 (never h2c). NewServer only on the serving side: a
// Handler runs on your http.Server's TLS.
func WithTLS(cfg *tls.Config) Option {
	return sharedOption(func(c *common) { c.tls = cfg })
}

// WithAddress sets the TCP address the Server listens on, such as
// "localhost:8080" or "127.0.0.1:0" for a free port (read it with
// Server.Addr). The default is DefaultAddress, ":8080". NewServer only.
func WithAddress(addr string) ServerOption {
	return serverOption(func(c *serverConfig) { c.addr = addr })
}

// WithListener makes the Server serve on l instead of listening itself;
// WithAddress is then ignored. The Server closes l when it stops.
// NewServer only.
func WithListener(l net.Listener) ServerOption {
	return serverOption(func(c *serverConfig) { c.lis = l })
}

// WithLogger sets the logger for errors of one-way messages and for
// net/http's own (http.Server.ErrorLog, at Warn). The default is the
// Service's logger (transport.Logger of Start's ctx) on a Server, and one
// that discards on a Handler.
func WithLogger(l *slog.Logger) ServerOption {
	return serverOption(func(c *serverConfig) { c.log = l })
}

// WithConcurrency bounds how many handlers run at once, one-way ones
// included; a request that arrives while n run is answered at once with
// ResourceExhausted (429), before its body is read. The default is
// DefaultConcurrency, 1024; n < 1 means 1.
func WithConcurrency(n int) ServerOption {
	return serverOption(func(c *serverConfig) { c.concurrency = max(n, 1) })
}

// WithReadHeaderTimeout bounds reading a request's headers: it is
// http.Server.ReadHeaderTimeout, the bound against slow-loris clients. The
// default is DefaultReadHeaderTimeout, 10 s. NewServer only.
func WithReadHeaderTimeout(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.readHeaderTimeout = d })
}

// WithReadTimeout bounds reading a request's body, or the request's own
// deadline if that is earlier; a body not read in time is answered with
// DeadlineExceeded. It is set per request with
// http.ResponseController.SetReadDeadline and cleared once the body is
// read, unlike http.Server.ReadTimeout, whose deadline would cancel the
// context of a handler running past it. The default is DefaultReadTimeout,
// 1 minute; 0 means no bound.
func WithReadTimeout(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.readTimeout = d })
}

// WithWriteTimeout bounds writing a reply, from the moment the handler
// returned, with http.ResponseController.SetWriteDeadline; a client that
// does not read its reply in time loses its connection. Unlike
// http.Server.WriteTimeout it does not bound the handler. The default is
// DefaultWriteTimeout, 1 minute; 0 means no bound.
func WithWriteTimeout(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.writeTimeout = d })
}

// WithIdleTimeout bounds how long a keep-alive connection waits for its
// next request: it is http.Server.IdleTimeout. The default is
// DefaultIdleTimeout, 2 minutes. NewServer only.
func WithIdleTimeout(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.idleTimeout = d })
}

// WithMaxHeaderBytes bounds the size of a request's headers, request line
// included: it is http.Server.MaxHeaderBytes; a request over it gets
// net/http's 431. The default is DefaultMaxHeaderBytes, 512 KiB, room for
// the 64 headers of micro's alphabet at their largest. NewServer only.
func WithMaxHeaderBytes(n int) ServerOption {
	return serverOption(func(c *serverConfig) { c.maxHeaderBytes = n })
}

// WithDrainDelay makes Stop keep serving for d after GET /readyz begins to
// fail, so that a load balancer sees the instance leave before its listener
// closes; Stop's ctx bounds the delay. Then Stop calls
// http.Server.Shutdown. The default is 0: Shutdown at once. NewServer only.
func WithDrainDelay(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.drainDelay = d })
}

// WithCORS lets browser pages from the given origins call the routes with
// fetch: each is an exact origin, "https://app.example" (scheme, host and
// port as the browser sends them in the Origin header), or "*" for any.
// Preflight requests (OPTIONS) from an allowed origin are answered 204,
// from any other 403; replies to an allowed origin carry
// Access-Control-Allow-Origin and expose the handler's reply headers. CORS
// only tells browsers what they may read: it does not stop requests, so it
// is no protection against cross-site requests (wrap the Handler in
// http.CrossOriginProtection for that). The default is no CORS headers and
// OPTIONS answered 405.
func WithCORS(origins ...string) ServerOption {
	return serverOption(func(c *serverConfig) { c.origins = append([]string(nil), origins...) })
}

// WithRouteListing turns on GET /routes, which lists the Mux's routes as
// JSON: [{"namespace":"greeter","service":"hello","path":"/greeter/hello"}].
// The default is off: an instance does not advertise its routes. NewServer
// only.
func WithRouteListing(on bool) ServerOption {
	return serverOption(func(c *serverConfig) { c.routes = on })
}

// WithRoundTripper makes the Client send its requests through rt, such as
// an *http.Transport of your own or a tracing wrapper around one. The
// default is a clone of http.DefaultTransport (proxy from the environment,
// its dial and TLS handshake timeouts) keeping up to 256 idle connections
// per host, with compression off and WithTLS's config. Client only; with
// rt, set TLS on rt: NewClient refuses WithTLS beside it.
func WithRoundTripper(rt http.RoundTripper) ClientOption {
	return clientOption(func(c *clientConfig) { c.rt = rt })
}

// sizeOrDefault is n, or micro.DefaultMaxMessageSize for n <= 0.
func sizeOrDefault(n int) int {
	if n <= 0 {
		return micro.DefaultMaxMessageSize
	}
	return n
}
