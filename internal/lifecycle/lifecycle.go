// Package lifecycle implements the micro.Server contract once, for every
// transport: a transport fills in Hooks for its medium and embeds a
// *Server, which gives it Start, Stop and Ready.
//
// The contract: Start runs setup, then serves until Stop and returns nil. A
// Start after Stop, or after a Stop that came before it, returns
// micro.ErrServerStopped; a second Start an error. Stop during setup cancels
// setup's ctx, and Start returns nil once setup has returned and what it
// acquired is released. Stop stops intake, lets in-flight handlers finish
// until its ctx ends, then cancels their base context and returns ctx's
// error; what they finish later still completes (replies, commits), and the
// medium is released after the last of them. A second Stop waits for the
// first's work, as long as its own ctx allows. Serving that ends without
// Stop (a connection lost for good) ends Start with its error, after
// abandoning in-flight handlers.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
)

// Hooks are what a transport does at each step. Only Setup is required.
type Hooks struct {
	// Setup dials, binds and subscribes. Its ctx is Start's, cancelled if
	// Stop is called before Setup returns. If Setup fails it releases what
	// it acquired itself. Handlers it lets run must enter the Gate, and use
	// Base as their base context.
	Setup func(ctx context.Context) error
	// Serve serves until stop is closed, then returns nil, or returns the
	// error that ended serving without Stop. Nil means: serve until Stop.
	Serve func(stop <-chan struct{}) error
	// Drain stops intake on the medium and waits, until ctx ends, for what
	// the medium must finish before the in-flight handlers are waited for
	// (messages already delivered to the process are dispatched, say). It
	// returns ctx's error if ctx ended first.
	Drain func(ctx context.Context) error
	// Abandon is called when Stop gives up on in-flight handlers, after
	// their base context was cancelled.
	Abandon func()
	// Release releases what Setup acquired, once no handler is in flight;
	// ctx bounds it. Its error is Stop's.
	Release func(ctx context.Context) error
}

// ReleaseTimeout bounds Release when it runs after Stop gave up, or after
// serving was lost.
const ReleaseTimeout = 10 * time.Second

type state int

const (
	stateNew state = iota
	stateStarting
	stateRunning
	stateStopping // Stop called (or serving lost); teardown under way
)

// Server is the lifecycle of one transport server. Create it with New.
type Server struct {
	name  string
	hooks Hooks
	gate  *Gate
	ready chan struct{}

	mu          sync.Mutex
	state       state
	stopCalled  bool
	cancelSetup context.CancelFunc
	base        context.Context
	cancelBase  context.CancelFunc

	stop        chan struct{} // closed when teardown begins; ends Serve
	setupDone   chan struct{} // closed when Start's setup phase is over
	stopped     chan struct{} // closed when teardown is complete, released
	firstReturn chan struct{} // closed when the first Stop returned
}

// New returns the lifecycle of the server called name ("nats"), whose Gate
// admits at most limit handlers at once (0: no bound).
func New(name string, limit int, h Hooks) *Server {
	if h.Setup == nil {
		panic("lifecycle: no Setup hook")
	}
	return &Server{
		name: name, hooks: h, gate: NewGate(limit), ready: make(chan struct{}),
		stop: make(chan struct{}), setupDone: make(chan struct{}),
		stopped: make(chan struct{}), firstReturn: make(chan struct{}),
		base: context.Background(),
	}
}

// String returns the server's name.
func (s *Server) String() string { return s.name }

// Ready returns a channel closed once Setup has succeeded and the server
// accepts work.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Gate returns the gate handlers enter.
func (s *Server) Gate() *Gate { return s.gate }

// Base returns the handlers' base context: the values of Start's ctx,
// cancelled when Stop gives up on handlers. It is set before Setup runs and
// not changed after, so Setup and the handlers the Gate admitted read it
// without a lock.
func (s *Server) Base() context.Context { return s.base }

// Stopping reports whether Stop has been called or serving was lost.
func (s *Server) Stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateStopping
}

// Start runs the server; see the package doc for the contract.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateStarting, stateRunning:
		s.mu.Unlock()
		return fmt.Errorf("%s: Start called twice", s.name)
	case stateStopping:
		s.mu.Unlock()
		return micro.ErrServerStopped
	}
	s.state = stateStarting
	s.base, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	setupCtx, cancelSetup := context.WithCancel(ctx)
	s.cancelSetup = cancelSetup
	s.mu.Unlock()

	err := s.hooks.Setup(setupCtx)
	cancelSetup()
	s.mu.Lock()
	if err != nil || s.stopCalled {
		s.state = stateStopping
		s.mu.Unlock()
		if err == nil {
			rctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
			err = s.release(rctx)
			cancel()
		}
		s.cancelBase()
		s.gate.Close()
		close(s.setupDone)
		close(s.stopped)
		if s.stopCalled {
			return nil // Stop came during setup, whatever setup made of it
		}
		return err
	}
	s.state = stateRunning
	s.gate.Open()
	s.mu.Unlock()
	close(s.setupDone)
	close(s.ready)

	var serveErr error
	if s.hooks.Serve != nil {
		// Serve may go on after Stop returned (gRPC's graceful stop waits
		// for handlers Stop gave up on): Start returns with Stop, not
		// with the medium.
		served := make(chan error, 1)
		go func() { served <- s.hooks.Serve(s.stop) }()
		select {
		case serveErr = <-served:
		case <-s.firstReturn:
			return nil
		}
	} else {
		<-s.stop
	}
	s.mu.Lock()
	lost := s.state == stateRunning
	if lost {
		s.state = stateStopping
	}
	s.mu.Unlock()
	if !lost {
		<-s.firstReturn
		return nil
	}
	if serveErr == nil {
		serveErr = errors.New("serving ended without Stop")
	}
	close(s.stop)
	// Nothing waits for in-flight handlers: they are abandoned at once,
	// and the medium is released with ReleaseTimeout once they return.
	abandoned, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.teardown(abandoned, true)
	close(s.firstReturn)
	return fmt.Errorf("%s: %w", s.name, serveErr)
}

// Stop stops the server; see the package doc for the contract.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	first := !s.stopCalled
	s.stopCalled = true
	prev := s.state
	switch {
	case prev == stateNew:
		s.state = stateStopping
		s.gate.Close()
		close(s.setupDone)
		close(s.stopped)
		close(s.firstReturn)
		s.mu.Unlock()
		return nil
	case prev == stateStarting:
		s.cancelSetup()
	case prev == stateRunning:
		s.state = stateStopping
		close(s.stop)
	}
	s.mu.Unlock()

	if first && prev == stateRunning {
		err := s.teardown(ctx, false)
		close(s.firstReturn)
		return err
	}
	// A Stop during setup, a second Stop, or one after serving was lost:
	// wait for the work under way.
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// teardown drains and releases; it returns ctx's error if ctx ended with
// handlers in flight, leaving the rest to finish in the background. When
// serving was lost, ctx has ended already and Release gets ReleaseTimeout.
func (s *Server) teardown(ctx context.Context, lost bool) error {
	var err error
	if s.hooks.Drain != nil {
		err = s.hooks.Drain(ctx)
	}
	s.gate.Close()
	if err == nil {
		err = s.gate.Wait(ctx)
	}
	if err == nil {
		defer close(s.stopped)
		if lost {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), ReleaseTimeout)
			defer cancel()
		}
		err = s.release(ctx)
		s.cancelBase()
		return err
	}
	s.cancelBase()
	if s.hooks.Abandon != nil {
		s.hooks.Abandon()
	}
	go func() {
		defer close(s.stopped)
		_ = s.gate.Wait(context.Background())
		rctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
		defer cancel()
		_ = s.release(rctx)
	}()
	return err
}

func (s *Server) release(ctx context.Context) error {
	if s.hooks.Release == nil {
		return nil
	}
	return s.hooks.Release(ctx)
}
