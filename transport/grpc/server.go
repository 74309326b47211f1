package grpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over gRPC, with the health service and, unless turned
// off, reflection. Create it with NewServer. Its methods are safe for
// concurrent use.
type Server struct {
	mux    *micro.Mux
	opts   options
	gs     *grpclib.Server
	health *health.Server
	info   *grpclib.UnaryServerInfo // shared by every call: interceptors only read it
	handle grpclib.UnaryHandler     // s.serveIntercepted, bound once
	ready  chan struct{}

	mu    sync.Mutex // guards state and addr, and log and base until Start serves
	state int
	addr  net.Addr
	// Start sets log and base before it serves; calls read them unlocked.
	log  *slog.Logger
	base context.Context // values of Start's ctx, which reach the handlers

	stopOnce, forceOnce sync.Once
	drained             chan struct{} // closed when GracefulStop returns
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// NewServer returns a Server for mux. It listens once Start is called.
func NewServer(mux *micro.Mux, opts ...Option) *Server {
	s := &Server{mux: mux, opts: newOptions(opts), health: health.NewServer(),
		ready: make(chan struct{}), drained: make(chan struct{})}
	s.info = &grpclib.UnaryServerInfo{Server: s, FullMethod: callMethod}
	s.handle = s.serveIntercepted
	gopts := []grpclib.ServerOption{
		grpclib.MaxRecvMsgSize(wireLimit(s.opts.max)),
		grpclib.MaxSendMsgSize(wireLimit(s.opts.max)),
	}
	if s.opts.tls != nil {
		gopts = append(gopts, grpclib.Creds(credentials.NewTLS(s.opts.tls)))
	}
	s.gs = grpclib.NewServer(append(gopts, s.opts.serverOpts...)...)
	s.gs.RegisterService(&serviceDesc, s)
	healthpb.RegisterHealthServer(s.gs, s.health)
	if s.opts.reflection {
		reflection.Register(s.gs)
	}
	return s
}

// String returns "grpc".
func (s *Server) String() string { return "grpc" }

// Ready returns a channel closed once the Server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address the Server listens on, or nil before it is Ready.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start listens, marks the health service SERVING, and serves until Stop has
// finished, then returns nil. A listen error is returned. ctx bounds the
// listen, and its values reach the handlers. Start returns nil at once if
// Stop was called before it, and an error if it is called twice.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateRunning:
		s.mu.Unlock()
		return errors.New("grpc: Start called twice")
	case stateStopped:
		s.mu.Unlock()
		return nil
	}
	lis := s.opts.lis
	if lis == nil {
		var err error
		if lis, err = new(net.ListenConfig).Listen(ctx, "tcp", s.opts.addr); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("grpc: listen: %w", err)
		}
	}
	s.state, s.addr, s.base = stateRunning, lis.Addr(), context.WithoutCancel(ctx)
	if s.log = s.opts.log; s.log == nil {
		s.log = transport.Logger(ctx)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(serviceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log := s.log
	s.mu.Unlock()

	close(s.ready)
	log.Info("grpc: serving", "addr", lis.Addr().String())
	// Serve returns nil once Stop has finished, or ErrServerStopped if Stop
	// came first; either way the listener is closed.
	if err := s.gs.Serve(lis); err != nil && !errors.Is(err, grpclib.ErrServerStopped) {
		return fmt.Errorf("grpc: serve: %w", err)
	}
	return nil
}

// Stop marks the health service NOT_SERVING, stops accepting connections and
// calls, and lets in-flight handlers finish (gRPC's GracefulStop) until ctx
// ends. Then it closes every connection, which cancels the handlers'
// contexts, and returns ctx's error without waiting for handlers that ignore
// their ctx. It is idempotent and safe to call before or during Start.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
	s.stopOnce.Do(func() {
		s.health.Shutdown()
		go func() {
			s.gs.GracefulStop()
			close(s.drained)
		}()
	})
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	s.forceOnce.Do(func() {
		s.logger().Warn("grpc: stop deadline passed; closing connections with calls in flight", "err", ctx.Err())
		// gRPC's Stop returns once connections are closed, unless the
		// caller passed grpc.WaitForHandlers; do not wait for it then.
		go s.gs.Stop()
	})
	return ctx.Err()
}

// logger returns the logger, which Start settles.
func (s *Server) logger() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.log
}
