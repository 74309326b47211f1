package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux from JetStream streams. Create it with NewServer;
// its methods are safe for concurrent use.
//
// Each namespace's subjects "[prefix.]namespace.*" are held by a stream,
// and the Server consumes them with a durable pull consumer; every instance
// of the service shares the consumer's messages. See the package doc for
// the delivery guarantees.
type Server struct {
	*lifecycle.Server
	mux *micro.Mux
	o   serverOptions
	d   transport.Dispatcher

	// Set by setup, read-only after.
	conn      *natsconn.Conn
	nc        *natsgo.Conn // conn.NC
	js        natsjs.JetStream
	log       *slog.Logger
	consumers []*consumer
	closed    <-chan struct{} // closed once nc is closed for good

	lost       chan error     // a consumer that cannot go on: ends serving
	mu         sync.Mutex     // orders starting the pull loops before waiting for them
	stopped    bool           // intake stopped: no pull loop starts
	stopIntake chan struct{}  // closed by drain: pull no more
	loops      sync.WaitGroup // the pull loops
	workers    sync.WaitGroup // the workers of every consumer
	sweeping   sync.WaitGroup // the sweep, once serving
	done       chan struct{}  // closed by release: the sweep ends
}

// consumer is one durable consumer of a stream, for the namespaces of the
// Mux that the stream holds.
type consumer struct {
	stream string
	cons   natsjs.Consumer
	nss    []string      // its namespaces
	bases  []string      // their subjects without the service: "[prefix.]ns."
	slots  chan struct{} // one token per message asked for or held, and not yet settled

	// Its own pulls (pull.go). Set by subscribe, read-only after.
	sub   *natsgo.Subscription // to inbox+"*"
	inbox string               // "<inbox>.": a pull's reply subject is inbox+id
	msgs  chan *natsgo.Msg     // what sub receives: messages and status messages of its pulls
	next  string               // the subject of its pull requests

	// The bounds of its pulls (limit): set by subscribe, then read and
	// set by the pull loop only.
	maxBatch int           // messages a pull asks for at most
	maxBytes int           // a pull's max_bytes
	expires  time.Duration // a pull's expiry

	out    atomic.Int64  // messages asked for by open pulls and not yet come: slots they hold
	ended  chan struct{} // signalled when a pull ends or out reaches 0
	failed chan error    // what a status message reports to the pull loop
	served atomic.Bool   // a pull ended as asked (filled or expired): pulls do not fail
	quit   chan struct{} // closed by the pull loop at its end: the head ends

	forgotten atomic.Int64 // how often it forgot its open pulls (abandon)

	mu      sync.Mutex
	workers map[*worker]struct{} // alive, for the sweep
	id      uint64               // of the last pull
	pulls   map[uint64]open      // open pulls by id
}

// NewServer returns a Server for mux. It connects and consumes once Start
// is called; see the With… options for the connection, streams, consumers,
// retries and dead letters.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{mux: mux, o: newServerOptions(opts), lost: make(chan error, 1), stopIntake: make(chan struct{}), done: make(chan struct{})}
	s.d = transport.Dispatcher{Mux: mux, Transport: "jetstream", MaxMessageSize: s.o.max}
	s.Server = lifecycle.New("jetstream", 0, lifecycle.Hooks{
		Setup: s.setup, Serve: s.serve, Drain: s.drain, Release: s.release,
	})
	return s
}

// Start connects (or takes the WithConn connection), finds the stream of
// every namespace of the Mux (creating it with WithCreateStream), creates
// or updates the durable consumers, and then consumes until Stop is
// called, when it returns nil. Ready is closed once the consumers exist:
// a message published after it is handled. Start returns an error if setup
// fails (no NATS server, JetStream off, a stream missing, no durable name),
// if the connection closes for good or a consumer is deleted while
// serving, or if called twice; after Stop it returns
// micro.ErrServerStopped. ctx bounds setup; its values reach handlers.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop stops pulling messages (the last pull ends within a second, and
// the messages it still brings are handled), waits for in-flight handlers
// to finish and their messages to be acknowledged, flushes the connection
// and closes it if Start dialled it. If ctx ends first, the handlers'
// contexts are cancelled and Stop returns ctx's error; a message whose
// handler then fails is handed back (a Nak delayed by two seconds, so that
// another server gets it), never dead-lettered, and the connection stays
// open until the last handler has settled its message. Stop is idempotent:
// a second call waits for the first's work, bounded by its own ctx. Called
// before Start, it makes Start return micro.ErrServerStopped.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }

func (s *Server) setup(ctx context.Context) (err error) {
	if err := natsconn.CheckPrefix("jetstream", s.o.prefix); err != nil {
		return err
	}
	durable := s.o.durable
	if durable == "" {
		durable = sanitize(transport.ServiceName(ctx))
	}
	switch {
	case durable == "":
		return errors.New("jetstream: no durable consumer name: run the server in a micro.Service or use WithDurable")
	case !transport.ValidName(durable):
		return micro.Errorf(micro.InvalidArgument, "jetstream: invalid durable consumer name %q (want [A-Za-z0-9_-]+)", durable)
	}
	nss := s.mux.Namespaces()
	if len(nss) == 0 {
		return errors.New("jetstream: the Mux has no routes")
	}
	s.log = s.o.log
	if s.log == nil {
		s.log = transport.Logger(ctx)
	}
	s.d.Logger = s.log

	conn, err := s.o.conn.Connect(ctx, "jetstream", "micro jetstream server "+durable, errorHandler(s.log))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	js, err := natsjs.New(conn.NC, s.o.jsOpts...)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	s.conn, s.nc, s.js = conn, conn.NC, js

	byStream := map[string]*consumer{}
	for _, ns := range nss {
		base := natsconn.Subject(s.o.prefix, ns, "")
		stream, err := s.stream(ctx, base+"*")
		if err != nil {
			return err
		}
		c := byStream[stream]
		if c == nil {
			c = &consumer{stream: stream, slots: make(chan struct{}, s.o.concurrency),
				workers: map[*worker]struct{}{}, pulls: map[uint64]open{},
				ended: make(chan struct{}, 1), failed: make(chan error, 1), quit: make(chan struct{})}
			byStream[stream] = c
			s.consumers = append(s.consumers, c)
		}
		c.nss, c.bases = append(c.nss, ns), append(c.bases, base)
	}
	if dl := s.o.deadLetter; dl != "" {
		if !validSubject(dl) {
			return micro.Errorf(micro.InvalidArgument, "jetstream: invalid dead-letter subject %q", dl)
		}
		for _, c := range s.consumers {
			for _, base := range c.bases {
				if strings.HasPrefix(dl, base) && !strings.Contains(dl[len(base):], ".") {
					return micro.Errorf(micro.InvalidArgument, "jetstream: the dead-letter subject %q is one the server consumes (%s*)", dl, base)
				}
			}
		}
		if _, err := s.stream(ctx, dl); err != nil {
			return err
		}
	}
	for _, c := range s.consumers {
		if c.cons, err = s.consumer(ctx, c, durable); err != nil {
			return err
		}
	}
	if s.closed = conn.Watch(); s.nc.IsClosed() {
		return micro.Errorf(micro.Unavailable, "jetstream: connection closed during setup")
	}
	return nil
}

// sanitize replaces every character outside [A-Za-z0-9_-] with '_'.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && transport.ValidName(string(r)) {
			return r
		}
		return '_'
	}, name)
}

// stream returns the name of the stream that holds subjects, creating it
// if it is missing and WithCreateStream is set.
func (s *Server) stream(ctx context.Context, subjects string) (string, error) {
	name, err := s.js.StreamNameBySubject(ctx, subjects)
	if err == nil {
		return name, nil
	}
	want := streamName(subjects)
	if !errors.Is(err, natsjs.ErrStreamNotFound) {
		return "", micro.Errorf(micro.CodeOf(publishError(subjects, err)), "jetstream: look up the stream of %s: %w", subjects, err)
	}
	if !s.o.create {
		return "", micro.Errorf(micro.NotFound, "jetstream: stream %q for subjects %q does not exist: create it (nats stream add %s --subjects '%s') or use WithCreateStream",
			want, subjects, want, subjects)
	}
	cfg := natsjs.StreamConfig{
		Name: want, Subjects: []string{subjects},
		Retention: s.o.retention, Replicas: s.o.replicas, Storage: s.o.storage,
	}
	for _, f := range s.o.streamConfig {
		f(&cfg)
	}
	if _, err := s.js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
		return "", fmt.Errorf("jetstream: create stream %q for %q: %w", want, subjects, err)
	}
	return want, nil
}

// consumer creates or updates the durable consumer of c's stream.
func (s *Server) consumer(ctx context.Context, c *consumer, durable string) (natsjs.Consumer, error) {
	cfg := natsjs.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       s.o.ackWait,
		MaxDeliver:    s.o.retry.Retries + 2 + redeliveries, // one past the Server's own bound
		MaxAckPending: s.o.maxAckPending,
		DeliverPolicy: natsjs.DeliverAllPolicy,
	}
	if len(c.bases) == 1 {
		cfg.FilterSubject = c.bases[0] + "*"
	} else {
		for _, base := range c.bases {
			cfg.FilterSubjects = append(cfg.FilterSubjects, base+"*")
		}
	}
	for _, f := range s.o.consumerCfg {
		f(&cfg)
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, c.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("jetstream: create consumer %q on stream %q: %w", durable, c.stream, err)
	}
	return cons, nil
}

// serve starts a pull loop per consumer and waits for Stop, the connection
// closing for good, or a consumer that cannot go on.
func (s *Server) serve(stop <-chan struct{}) error {
	s.mu.Lock()
	if !s.stopped {
		for i, c := range s.consumers {
			if err := s.subscribe(c); err != nil {
				for _, c := range s.consumers[:i] {
					_ = c.sub.Unsubscribe()
				}
				s.mu.Unlock()
				return err
			}
		}
		s.sweeping.Add(1)
		go s.sweep()
		for _, c := range s.consumers {
			s.loops.Add(1)
			go s.pull(c)
		}
	}
	s.mu.Unlock()
	select {
	case <-stop:
		return nil
	case <-s.closed:
		return micro.Errorf(micro.Unavailable, "jetstream: connection closed while serving")
	case err := <-s.lost:
		return err
	}
}

// drain stops the pull loops and waits, until ctx ends, for them to return
// and hand back what they pulled meanwhile.
func (s *Server) drain(ctx context.Context) error {
	s.stopPulls()
	done := make(chan struct{})
	go func() {
		s.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopPulls stops the pull loops, or keeps them from starting.
func (s *Server) stopPulls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		close(s.stopIntake)
	}
}

// release ends the sweep and the workers, flushes the acknowledgements and
// replies of the handlers, once the last has settled, and closes the
// connection if Start dialled it.
func (s *Server) release(ctx context.Context) error {
	s.stopPulls()
	s.loops.Wait() // a pull ends within fetchWait
	close(s.done)  // no handler is in flight: the sweep has nothing to extend
	s.sweeping.Wait()
	s.workers.Wait()
	s.conn.Stop(ctx, s.log)
	return nil
}
