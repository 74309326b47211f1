package nats

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over NATS. Create it with NewServer; its methods are
// safe for concurrent use.
//
// Each namespace of the Mux is one queue subscription on
// "[prefix.]namespace.*", so every route is served on its subject
// "[prefix.]namespace.service" and an unknown service of a served namespace
// is answered with NotFound. Handlers run on their own goroutines, at most
// WithConcurrency at once.
type Server struct {
	mux   *micro.Mux
	o     options
	ready chan struct{}
	done  chan struct{} // closed by the first Stop; releases Start

	mu         sync.Mutex // guards state and stopCalled
	state      int
	stopCalled bool
	stopWait   chan struct{} // closed when the first Stop's work is done, abandoned handlers included

	// Set by Start before the first subscription, read-only after.
	nc         *natsgo.Conn
	owned      bool // nc was dialled by Start, so Stop closes it
	log        *slog.Logger
	base       context.Context // Start's values; cancelled when Stop gives up
	cancelBase context.CancelFunc
	sem        chan struct{} // one token per running handler
	subs       []*natsgo.Subscription
	disc       *discovery
	status     chan natsgo.Status // CLOSED events of nc
	connClosed chan struct{}

	stopping atomic.Bool // refused requests are then Unavailable, not ResourceExhausted
}

const (
	stateNew = iota
	stateStarting
	stateRunning
	stateStopped
)

// NewServer returns a Server for mux. It connects and serves once Start is
// called. See the With… options for the connection, subjects, queue group,
// concurrency bound and discovery name.
func NewServer(mux *micro.Mux, opts ...Option) *Server {
	return &Server{
		mux:      mux,
		o:        newOptions(opts),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		stopWait: make(chan struct{}),
	}
}

// String returns "nats".
func (s *Server) String() string { return "nats" }

// Ready returns a channel closed once the server's subscriptions are
// registered with the NATS server, so requests sent after it reach a handler.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Start connects (or takes the WithConn connection), subscribes every
// namespace of the Mux and the services-protocol subjects, waits until the
// NATS server has registered them, and then serves until Stop is called, when
// it returns nil. It returns an error if setup fails (bad credentials, no
// server, an invalid service name), if the connection closes for good while
// serving, or if called twice. ctx bounds setup; its values reach handlers.
// Routes added to the Mux after Start are served if their namespace was, but
// discovery lists the routes Start saw.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateStopped:
		s.mu.Unlock()
		return nil
	case stateStarting, stateRunning:
		s.mu.Unlock()
		return errors.New("nats: Start called twice")
	}
	s.state = stateStarting
	s.mu.Unlock()

	name, err := s.o.serviceName(ctx)
	if err != nil {
		s.fail()
		return err
	}
	nc, owned, err := s.o.connect(ctx, name)
	if err != nil {
		s.fail()
		return err
	}
	if serving, err := s.subscribe(ctx, nc, owned, name); !serving {
		return err // nil if Stop was called while connecting
	}
	if err := flush(ctx, nc); err != nil {
		select {
		case <-s.done: // Stop closed the connection while it flushed
			return nil
		default:
		}
		_ = s.Stop(cancelled) // nothing was served yet: tear down at once
		return micro.Errorf(micro.Unavailable, "nats: register subscriptions: %w", err)
	}
	close(s.ready)
	select {
	case <-s.done:
		return nil
	case <-s.connClosed:
		select {
		case <-s.done:
			return nil
		default:
			return micro.Errorf(micro.Unavailable, "nats: connection closed while serving")
		}
	}
}

// fail records that Start failed before it had anything to release.
func (s *Server) fail() {
	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
}

// subscribe publishes the serving state and subscribes, all under s.mu so
// that a concurrent Stop sees either nothing or everything to tear down. It
// reports whether the server is now serving.
func (s *Server) subscribe(ctx context.Context, nc *natsgo.Conn, owned bool, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopped { // Stop was called while connecting
		if owned {
			nc.Close()
		}
		return false, nil
	}
	s.nc, s.owned = nc, owned
	s.log = s.o.log
	if s.log == nil {
		s.log = transport.Logger(ctx)
	}
	s.base, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	s.sem = make(chan struct{}, s.o.concurrency)
	s.watchClose()
	s.disc = newDiscovery(name, s.o.version, s.o.prefix, s.o.queueGroup, s.mux.Routes())

	err := s.disc.subscribe(nc)
	for _, ns := range s.mux.Namespaces() {
		if err != nil {
			break
		}
		var sub *natsgo.Subscription
		if sub, err = s.subscribeNamespace(ns); err == nil {
			s.subs = append(s.subs, sub)
		}
	}
	if err != nil {
		s.disc.unsubscribe()
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		s.release(cancelled)
		s.state = stateStopped
		return false, err
	}
	s.state = stateRunning
	return true, nil
}

// watchClose makes connClosed close when nc closes for good.
func (s *Server) watchClose() {
	s.status = s.nc.StatusChanged(natsgo.CLOSED)
	s.connClosed = make(chan struct{})
	go func(status <-chan natsgo.Status, closed chan<- struct{}) {
		if _, ok := <-status; ok {
			close(closed)
		}
	}(s.status, s.connClosed)
	if s.nc.IsClosed() {
		s.nc.RemoveStatusListener(s.status) // the watcher then returns
		s.connClosed = closedChan
	}
}

var cancelled = func() context.Context { c, cancel := context.WithCancel(context.Background()); cancel(); return c }()

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Stop stops taking requests: it leaves discovery, drains the request
// subscriptions (requests already delivered to this process are still
// served), waits for in-flight handlers to publish their replies, flushes the
// connection, and closes it if Start dialled it; a WithConn connection stays
// open. If ctx ends first, Stop cancels the handlers' contexts and returns
// ctx's error without waiting for them; the connection is flushed and closed
// once the last of them has replied. While the NATS server is unreachable
// Stop does not wait for a drain or flush that cannot happen. Stop is
// idempotent: a second call waits for the first to finish, or for its own
// ctx. Called before Start, it makes Start return nil.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	prev := s.state
	s.state = stateStopped
	first := !s.stopCalled
	s.stopCalled = true
	s.mu.Unlock()

	if !first {
		select {
		case <-s.stopWait:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(s.done)
	if prev != stateRunning {
		close(s.stopWait)
		return nil
	}
	return s.shutdown(ctx)
}

// shutdown drains the server in the order that loses no reply: no new
// requests, then in-flight handlers, then a flush, then the connection. If
// ctx ends first, it cancels the handlers' contexts and returns; the
// connection stays open until the last of them has replied.
func (s *Server) shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.disc.unsubscribe()
	var taken int
	err := s.drainSubscriptions(ctx)
	if err == nil {
		taken, err = s.waitHandlers(ctx, 0)
	}
	if err != nil {
		s.cancelBase()
		go func() {
			defer close(s.stopWait)
			_, _ = s.waitHandlers(context.Background(), taken)
			s.release(context.Background())
		}()
		return err
	}
	defer close(s.stopWait)
	s.release(ctx)
	return nil
}

// release flushes the replies, stops watching the connection and closes it
// if Start dialled it.
func (s *Server) release(ctx context.Context) {
	s.cancelBase()
	if s.nc.IsConnected() { // else replies wait in nats.go's reconnect buffer
		if err := flush(ctx, s.nc); err != nil && ctx.Err() == nil {
			s.log.Warn("nats: flush at stop", "err", err)
		}
	}
	s.nc.RemoveStatusListener(s.status)
	if s.owned {
		s.nc.Close()
	}
}

// drainSubscriptions unsubscribes the request subscriptions and waits until
// the messages already delivered to them have been dispatched.
func (s *Server) drainSubscriptions(ctx context.Context) error {
	// A drain ends with a flush that nats.go bounds by 10 s; if the NATS
	// server goes away meanwhile, nothing more arrives, so stop waiting.
	lost := s.nc.StatusChanged(natsgo.DISCONNECTED, natsgo.RECONNECTING)
	defer s.nc.RemoveStatusListener(lost)
	var closed []<-chan natsgo.SubStatus
	for _, sub := range s.subs {
		if !s.nc.IsConnected() {
			// Draining needs the NATS server; while it is unreachable
			// nothing more arrives, and waiting would last until ctx ends.
			_ = sub.Unsubscribe()
			continue
		}
		ch := sub.StatusChanged(natsgo.SubscriptionClosed)
		if err := sub.Drain(); err != nil {
			continue // the connection closed: nothing more will arrive
		}
		closed = append(closed, ch)
	}
	for _, ch := range closed {
		for open := true; open; { // ch is closed when the subscription is
			select {
			case _, open = <-ch:
			case <-ctx.Done():
				return ctx.Err()
			case <-s.connClosed:
				return nil
			case <-lost:
				return nil
			}
		}
	}
	return nil
}

// waitHandlers returns once no handler runs, by taking every token of the
// semaphore beyond the taken it already holds; later requests find it full
// and are refused. It returns how many tokens it holds.
func (s *Server) waitHandlers(ctx context.Context, taken int) (int, error) {
	for ; taken < cap(s.sem); taken++ {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return taken, ctx.Err()
		}
	}
	return taken, nil
}

// flush waits until the NATS server has processed everything published on
// nc, bounded by ctx and, if ctx has no deadline, by nats.go's usual 10 s.
func flush(ctx context.Context, nc *natsgo.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}
