package natstest

import "github.com/nats-io/nats-server/v2/server"

// Option configures a server made by [Start] or [New].
type Option func(*config)

type config struct {
	server     *server.Options
	port       int
	maxPayload int32
	jetStream  bool
	storeDir   string
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	// JetStream asked for in nats-server's options gets a store of the
	// test's own unless they name one: nats-server's default is shared.
	if c.server != nil && c.server.JetStream {
		c.jetStream = true
		if c.storeDir == "" {
			c.storeDir = c.server.StoreDir
		}
	}
	return c
}

// WithServerOptions starts the server with a copy of nats-server's own
// options, for what this package has no option for: accounts,
// authorization, TLS, limits, clustering. Host defaults to 127.0.0.1 and a
// Port of 0 means a random one (nats-server's own 0 means 4222); the other
// options of this package override the fields they set. Logging and signal
// handling are always off. By default the options are nats-server's
// defaults.
func WithServerOptions(opts *server.Options) Option {
	return func(c *config) { c.server = opts }
}

// WithPort makes the server listen on port, such as one a test had a
// server listen on before. By default the port is a random free one.
func WithPort(port int) Option {
	return func(c *config) { c.port = port }
}

// WithMaxPayload sets the largest message the server accepts, headers
// included: nats-server's max_payload. The default is nats-server's, 1 MiB.
func WithMaxPayload(n int32) Option {
	return func(c *config) { c.maxPayload = n }
}

// WithJetStream turns JetStream on, with its store in a temporary
// directory: under t.TempDir() for [Start]. By default JetStream is off.
func WithJetStream() Option {
	return func(c *config) { c.jetStream = true }
}

// WithStoreDir turns JetStream on with its store in dir, so that a test can
// start another server on the store of one before it (see also
// [Server.Restart], which keeps the store). The directory is not removed.
func WithStoreDir(dir string) Option {
	return func(c *config) { c.jetStream, c.storeDir = true, dir }
}

// serverOptions returns the nats-server options c asks for.
func (c *config) serverOptions() *server.Options {
	o := &server.Options{}
	if c.server != nil {
		o = c.server.Clone()
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if c.port != 0 {
		o.Port = c.port
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	o.NoLog, o.NoSigs = true, true
	if c.maxPayload > 0 {
		o.MaxPayload = c.maxPayload
	}
	if c.jetStream {
		o.JetStream = true
		o.StoreDir = c.storeDir
	}
	return o
}
