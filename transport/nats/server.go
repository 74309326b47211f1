package nats

import (
	"context"
	"errors"
	"sync"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over NATS. Create it with NewServer; its methods are
// safe for concurrent use.
//
// Each namespace of the Mux is one queue subscription on
// "[prefix.]namespace.*", so every route is served on its subject
// "[prefix.]namespace.service" and an unknown service of a served namespace
// is answered with NotFound. Handlers run concurrently, at most
// WithConcurrency at once, on a pool of goroutines that read the
// subscriptions.
type Server struct {
	*lifecycle.Server
	mux *micro.Mux
	o   serverOptions
	d   transport.Dispatcher

	// Set by setup, before the first subscription; read-only after.
	conn   *natsconn.Conn
	nc     *natsgo.Conn // conn.NC
	subs   []*intake
	disc   *discovery
	closed <-chan struct{} // closed once nc is closed for good

	readers sync.WaitGroup // the subscriptions' readers (see intake)
	drops   drops
}

// NewServer returns a Server for mux. It connects and serves once Start is
// called. See the With… options for the connection, subjects, queue group,
// concurrency bound and discovery name.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{mux: mux, o: newServerOptions(opts)}
	s.drops.interval = dropReportInterval
	s.d = transport.Dispatcher{Mux: mux, Transport: "nats", MaxMessageSize: s.o.maxSize}
	s.Server = lifecycle.New("nats", s.o.concurrency, lifecycle.Hooks{
		Setup: s.setup, Serve: s.serve, Drain: s.drain, Release: s.release,
	})
	return s
}

// Start connects (or takes the WithConn connection), subscribes every
// namespace of the Mux and the services-protocol subjects, waits until the
// NATS server has registered them (then Ready is closed), and serves until
// Stop is called, when it returns nil. It returns an error if setup fails
// (bad credentials, no server, an invalid prefix, service name or version,
// a subject the account may not subscribe to: PermissionDenied, naming
// it) or if the connection closes for good while serving. ctx bounds setup; its
// values reach handlers. A second Start returns an error, a Start after
// Stop micro.ErrServerStopped. Routes added to the Mux after Start are
// served if their namespace was; discovery lists the routes Start saw.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop stops taking requests: it leaves discovery, drains the request
// subscriptions (requests already delivered to this process are still
// served), waits for in-flight handlers to publish their replies, flushes
// the connection, and closes it if Start dialled it; a WithConn connection
// stays open. If ctx ends first, Stop cancels the handlers' contexts and
// returns ctx's error without waiting for them; the connection is flushed
// and closed once the last of them has replied. While the NATS server is
// unreachable Stop does not wait for a drain that cannot happen. Stop is
// idempotent: a second call waits for the first's work, or for its own ctx.
// Called before Start, it makes Start return micro.ErrServerStopped.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }

// setup connects and subscribes; on failure it releases what it acquired.
func (s *Server) setup(ctx context.Context) error {
	if err := natsconn.CheckPrefix("nats", s.o.prefix); err != nil {
		return err
	}
	name, err := s.o.serviceName(ctx)
	if err != nil {
		return err
	}
	if s.d.Logger = s.o.log; s.d.Logger == nil {
		s.d.Logger = transport.Logger(ctx)
	}
	if s.conn, err = s.o.conn.Connect(ctx, "nats", name); err != nil {
		return err
	}
	s.nc, s.closed = s.conn.NC, s.conn.Watch()
	s.disc = newDiscovery(name, s.o.version, s.o.prefix, s.o.queueGroup, s.mux.Routes())
	before := s.nc.LastError()
	err = s.disc.subscribe(s.nc)
	for _, ns := range s.mux.Namespaces() {
		if err != nil {
			break
		}
		var in *intake
		if in, err = s.subscribeNamespace(ns); err == nil {
			s.subs = append(s.subs, in)
		}
	}
	if err == nil {
		if err = natsconn.Flush(ctx, s.nc); err != nil {
			err = micro.Errorf(micro.Unavailable, "nats: register subscriptions: %w", err)
		}
	}
	if err == nil {
		err = deniedSubscription(before, s.nc.LastError())
	}
	if err != nil {
		_ = s.release(cancelled) // nothing was served: no flush
	}
	return err
}

// deniedSubscription returns a PermissionDenied error if the connection's
// last error changed from before to after and is a permissions violation:
// the NATS server refuses a subscription with an asynchronous -ERR, which
// it sends before the PONG of the flush that follows the subscriptions, so
// a subscription this Server cannot have is known once Flush returns. Its
// message names the subject.
func deniedSubscription(before, after error) error {
	if after == nil || after == before || !errors.Is(after, natsgo.ErrPermissionViolation) {
		return nil
	}
	return micro.Errorf(micro.PermissionDenied, "nats: subscribe: %w", after)
}

var cancelled = func() context.Context { c, cancel := context.WithCancel(context.Background()); cancel(); return c }()

// serve serves until Stop, or until the connection is closed for good.
func (s *Server) serve(stop <-chan struct{}) error {
	select {
	case <-stop:
		return nil
	case <-s.closed:
		return micro.Errorf(micro.Unavailable, "connection closed while serving")
	}
}

// drain leaves discovery, so that nothing finds the service while it
// drains, and drains the request subscriptions.
func (s *Server) drain(ctx context.Context) error {
	s.disc.unsubscribe()
	return s.drainSubscriptions(ctx)
}

// drainSubscriptions unsubscribes the request subscriptions and waits until
// the messages already delivered to them have been taken by their readers,
// and the readers, having run their handlers, have exited.
func (s *Server) drainSubscriptions(ctx context.Context) error {
	// A drain ends with a flush that nats.go bounds by 10 s; if the NATS
	// server goes away meanwhile, nothing more arrives, so stop waiting.
	lost := s.nc.StatusChanged(natsgo.DISCONNECTED, natsgo.RECONNECTING)
	defer s.nc.RemoveStatusListener(lost)
	type draining struct {
		in     *intake
		closed <-chan natsgo.SubStatus
	}
	var drains []draining
	for _, in := range s.subs {
		if !s.nc.IsConnected() {
			// Draining needs the NATS server; while it is unreachable
			// nothing more arrives, and waiting would last until ctx ends.
			_ = in.sub.Unsubscribe()
			in.end()
			continue
		}
		ch := in.sub.StatusChanged(natsgo.SubscriptionClosed)
		if err := in.sub.Drain(); err != nil {
			in.end() // the connection closed: nothing more will arrive
			continue
		}
		drains = append(drains, draining{in, ch})
	}
	for _, d := range drains {
		for open := true; open; { // closed when the subscription is
			select {
			case _, open = <-d.closed:
			case <-ctx.Done():
				return ctx.Err()
			case <-s.closed:
				return nil
			case <-lost:
				return nil
			}
		}
		d.in.end()
	}
	// The Gate closes once Drain returns, so wait until the readers have
	// entered it with every message the channels held, run the handlers
	// and exited.
	readersDone := make(chan struct{})
	go func() { s.readers.Wait(); close(readersDone) }()
	select {
	case <-readersDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release unsubscribes what is left (all of it if Stop came during setup),
// flushes the replies, stops watching the connection and closes it if
// setup dialled it. A failed flush is logged: the replies are gone.
func (s *Server) release(ctx context.Context) error {
	s.disc.unsubscribe()
	for _, in := range s.subs {
		_ = in.sub.Unsubscribe() // a drained one is already gone
		in.end()
	}
	s.conn.Stop(ctx, s.d.Logger)
	s.drops.stop()
	return nil
}

// Dropped returns how many one-way messages (Send) the Server has dropped
// since it was created, none of which the sender hears of: those that came
// while WithConcurrency handlers were running, and those that came before
// Ready or while stopping. It is safe to call at any time, for a metric.
// The services protocol's STATS reports the same per endpoint, as
// {"one_way_dropped": n} in its data, and the log gets one WARN line with
// the count per 10 s in which messages were dropped, not one per message.
// Requests (Call) are never dropped this way: they are answered with
// ResourceExhausted or Unavailable.
func (s *Server) Dropped() uint64 { return s.drops.total.Load() }
