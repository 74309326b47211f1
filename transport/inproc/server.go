// Package inproc serves a micro.Mux to clients in the same process. It is the
// reference transport: its semantics are the spec every network transport is
// held to by microtest, and it is what tests of services use.
//
// Request and reply bytes are copied, so neither side can alias the other's
// buffer; headers and the caller's deadline reach the handler's ctx; errors
// come back as *micro.Error with code and message intact, and no cause.
package inproc

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/dancinggopher/micro"
)

// Server serves a Mux in process. Create it with NewServer; any number can
// coexist. Its methods are safe for concurrent use.
type Server struct {
	mux   *micro.Mux
	max   int
	log   *slog.Logger
	ready chan struct{}
	done  chan struct{} // closed by the first Stop; releases Start

	mu         sync.RWMutex // guards state; read-held while a call enters
	state      int
	base       context.Context // values of Start's ctx; cancelled when Stop gives up
	cancelBase context.CancelFunc
	inflight   sync.WaitGroup
	stopOnce   sync.Once
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// Option configures a Server.
type Option func(*Server)

// WithMaxMessageSize sets the largest request or reply in bytes; larger ones
// are answered with ResourceExhausted. The default is
// micro.DefaultMaxMessageSize.
func WithMaxMessageSize(n int) Option { return func(s *Server) { s.max = n } }

// WithLogger sets the logger for errors of one-way messages. The default is
// the Service's logger (micro.Logger of Start's ctx).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// NewServer returns a Server for mux. It serves once Start is called.
func NewServer(mux *micro.Mux, opts ...Option) *Server {
	s := &Server{mux: mux, max: micro.DefaultMaxMessageSize, ready: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	return s
}

// String returns "inproc".
func (s *Server) String() string { return "inproc" }

// Ready returns a channel closed once the server accepts calls.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Start serves until Stop is called, then returns nil. Calls made before
// Start are answered with Unavailable. Start returns an error if called twice.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateRunning:
		s.mu.Unlock()
		return errors.New("inproc: Start called twice")
	case stateStopped:
		s.mu.Unlock()
		return nil
	}
	s.base, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	if s.log == nil {
		s.log = micro.Logger(ctx)
	}
	s.state = stateRunning
	s.mu.Unlock()
	close(s.ready)
	<-s.done
	return nil
}

// Stop refuses new calls with Unavailable and waits for in-flight handlers,
// one-way ones included, until ctx ends; then it cancels their contexts and
// returns ctx's error without waiting longer. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.state = stateStopped
	cancel := s.cancelBase
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.done) })

	drained := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		if cancel != nil {
			cancel()
		}
		return ctx.Err()
	}
}

// enter admits one call, or reports that the server is not running.
func (s *Server) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.state != stateRunning {
		return micro.Errorf(micro.Unavailable, "inproc: server not running")
	}
	s.inflight.Add(1)
	return nil
}
