// Package inproc serves a micro.Mux to clients in the same process. It is the
// reference transport: its semantics are the spec every network transport is
// held to by microtest, and it is what tests of services use.
//
// Request and reply bytes are copied, so neither side can alias the other's
// buffer; headers and the caller's deadline reach the handler's ctx, and so
// does the caller's cancellation; errors come back as *micro.Error with code
// and message intact, and no cause. Routes registered on the Mux after
// Start are served at once.
package inproc

import (
	"context"
	"log/slog"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux in process. Create it with NewServer; any number can
// coexist. Its methods are safe for concurrent use.
type Server struct {
	*lifecycle.Server
	d   transport.Dispatcher
	log *slog.Logger // WithLogger's, or nil for the Service's
}

// ServerOption configures a Server; inproc has no client options, since a
// Client takes its limits from its Server.
type ServerOption func(*Server)

// WithMaxMessageSize sets the largest request or reply in bytes; larger ones
// are answered with ResourceExhausted. The default is
// micro.DefaultMaxMessageSize.
func WithMaxMessageSize(n int) ServerOption { return func(s *Server) { s.d.MaxMessageSize = n } }

// WithLogger sets the logger for errors of one-way messages. The default is
// the Service's logger (transport.Logger of Start's ctx).
func WithLogger(l *slog.Logger) ServerOption { return func(s *Server) { s.log = l } }

// NewServer returns a Server for mux. It serves once Start is called.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{d: transport.Dispatcher{Mux: mux, Transport: "inproc", MaxMessageSize: micro.DefaultMaxMessageSize}}
	for _, o := range opts {
		o(s)
	}
	s.Server = lifecycle.New("inproc", 0, lifecycle.Hooks{Setup: s.setup})
	return s
}

func (s *Server) setup(ctx context.Context) error {
	s.d.Logger = s.log
	if s.d.Logger == nil {
		s.d.Logger = transport.Logger(ctx)
	}
	return nil
}

// Start serves until Stop is called, then returns nil. Calls made before
// Start are answered with Unavailable. Start after Stop returns
// micro.ErrServerStopped, and a second Start an error.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop refuses new calls with Unavailable and waits for in-flight handlers,
// one-way ones included, until ctx ends; then it cancels their contexts and
// returns ctx's error without waiting longer. It is idempotent: a second
// Stop waits for the handlers the first gave up on.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }
