package grpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"

	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over gRPC, with the health service and, unless turned
// off, reflection. Create it with NewServer. Its methods are safe for
// concurrent use.
type Server struct {
	*lifecycle.Server
	opts   serverOptions
	d      transport.Dispatcher
	gs     *grpclib.Server // made by setup
	health *health.Server
	info   *grpclib.UnaryServerInfo // shared by every call: interceptors only read it
	handle grpclib.UnaryHandler     // s.serveIntercepted, bound once

	lis      net.Listener             // set by setup
	addr     atomic.Pointer[net.Addr] // set by setup
	stopping bool                     // set by drain, read by release after it
	drained  chan struct{}            // closed when GracefulStop returns
}

// NewServer returns a Server for mux. It listens once Start is called.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{opts: newServerOptions(opts), health: health.NewServer(), drained: make(chan struct{})}
	s.d = transport.Dispatcher{Mux: mux, Transport: "grpc", MaxMessageSize: s.opts.max}
	s.info = &grpclib.UnaryServerInfo{Server: s, FullMethod: callMethod}
	s.handle = s.serveIntercepted
	s.Server = lifecycle.New("grpc", 0, lifecycle.Hooks{
		Setup: s.setup, Serve: s.run, Drain: s.drain, Abandon: s.abandon, Release: s.release,
	})
	return s
}

// Addr returns the address the Server listens on, or nil before it is Ready.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Start listens, marks the health service SERVING, and serves until Stop,
// then returns nil. A listen error is returned. ctx bounds the listen, and
// its values reach the handlers. Start after Stop returns
// micro.ErrServerStopped, and a second Start an error.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop marks the health service NOT_SERVING, stops accepting connections and
// calls, and lets in-flight handlers finish (gRPC's GracefulStop) until ctx
// ends. Then it cancels the handlers' contexts, closes every connection
// (gRPC's Stop) and returns ctx's error without waiting for handlers that
// ignore their ctx. It is idempotent: a second Stop waits for what the first
// gave up on. Stop before Start makes Start return micro.ErrServerStopped.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }

func (s *Server) setup(ctx context.Context) error {
	if s.d.Logger = s.opts.log; s.d.Logger == nil {
		s.d.Logger = transport.Logger(ctx)
	}
	s.lis = s.opts.lis
	if s.lis == nil {
		var err error
		if s.lis, err = new(net.ListenConfig).Listen(ctx, "tcp", s.opts.addr); err != nil {
			return fmt.Errorf("grpc: listen: %w", err)
		}
	}
	s.gs = s.newGRPC()
	addr := s.lis.Addr()
	s.addr.Store(&addr)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(serviceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	s.d.Logger.Info("grpc: serving", "addr", addr.String())
	return nil
}

// newGRPC returns the gRPC server of s. Its stream workers serve the
// calls (as many as GOMAXPROCS; a call that finds them all busy gets its
// own goroutine, as without them): a worker's stack has grown to what a
// call needs, where a new goroutine's grows on every call, which costs a
// call more than anything micro does. The workers run from here until
// gRPC's Stop or GracefulStop, which release and drain call.
func (s *Server) newGRPC() *grpclib.Server {
	gopts := []grpclib.ServerOption{
		grpclib.MaxRecvMsgSize(wireLimit(s.opts.max)),
		grpclib.MaxSendMsgSize(wireLimit(s.opts.max)),
		grpclib.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}
	if s.opts.tls != nil {
		gopts = append(gopts, grpclib.Creds(credentials.NewTLS(s.opts.tls)))
	}
	gs := grpclib.NewServer(append(gopts, s.opts.grpc...)...)
	gs.RegisterService(&serviceDesc, s)
	healthpb.RegisterHealthServer(gs, s.health)
	if s.opts.reflection {
		reflection.Register(gs)
	}
	return gs
}

// run runs gRPC's Serve, which returns once drain stopped it (or at once,
// if drain came first); any other return is serving lost.
func (s *Server) run(stop <-chan struct{}) error {
	err := s.gs.Serve(s.lis)
	select {
	case <-stop:
		return nil
	default:
	}
	if err == nil {
		err = errors.New("gRPC stopped serving")
	}
	return fmt.Errorf("serve: %w", err)
}

func (s *Server) drain(ctx context.Context) error {
	s.stopping = true
	s.health.Shutdown()
	go func() {
		s.gs.GracefulStop()
		close(s.drained)
	}()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandon is called when Stop gave up on handlers: their contexts are
// cancelled, and gRPC's graceful stop goes on, so that what they still
// answer reaches their callers, as on every transport; the connections
// close once the last of them has returned.
func (s *Server) abandon() {
	s.d.Logger.Warn("grpc: stop deadline passed with calls in flight; their contexts are cancelled, their replies still sent")
}

// release waits for GracefulStop, which returns soon after Stop if drain
// gave up. If Stop came during setup, gRPC never served: it stops gRPC's
// workers and closes the listener instead.
func (s *Server) release(ctx context.Context) error {
	if !s.stopping {
		s.gs.Stop()
		return s.lis.Close()
	}
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
