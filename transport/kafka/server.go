package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over Kafka: it consumes the topic of each of the
// Mux's namespaces in a consumer group, dispatches each record to the
// service its micro-service header names, and answers requests that ask
// for a reply. Create it with NewServer; its methods are safe for
// concurrent use.
type Server struct {
	*lifecycle.Server
	mux *micro.Mux
	o   serverOptions
	d   transport.Dispatcher

	// Set by setup before the server runs.
	cl        *kgo.Client
	log       *slog.Logger
	group     string
	topics    map[string]string // topic -> namespace
	sem       chan struct{}     // bounds the partitions handled at once
	pollDone  chan struct{}     // closed when the poll loop has returned
	rebalance chan struct{}     // capacity 1: a rebalance waits for the poll loop
	commits   *committer
	health    *health
	parts     partitions
}

// NewServer returns a Server for mux. It serves once Start is called.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{mux: mux, o: newServerOptions(opts)}
	// The Dispatcher logs nothing: the transport logs a one-way record's
	// failure once, after its retries, with its topic and offset.
	s.d = transport.Dispatcher{Mux: mux, Transport: "kafka", MaxMessageSize: s.o.max}
	s.Server = lifecycle.New("kafka", 0, lifecycle.Hooks{
		Setup: s.setup, Serve: s.serve, Drain: s.drain, Abandon: s.abandon, Release: s.release,
	})
	return s
}

// Start connects to the brokers, checks (or creates, with WithCreateTopics)
// the topics of the Mux's namespaces and the dead-letter topic, joins the
// consumer group and serves until Stop, then returns nil. It returns an
// error, bounded by ctx, if the Mux has no routes, no group is configured,
// WithClientOptions undid what the delivery guarantee rests on, no broker
// answers, or a topic is missing. The namespaces are read once, here: one
// registered on the Mux later is not consumed. Ready is closed once the
// server has begun to join its group; the group assigns partitions shortly
// after. ctx's values reach the handlers; cancelling ctx once serving does
// not stop the server. Start after Stop returns micro.ErrServerStopped,
// and a second Start an error.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop stops fetching, lets the records in flight finish until ctx ends,
// commits the offsets of the records handled, leaves the group and closes
// the connections. Records fetched but not yet started are left to be
// consumed again. If ctx ends first, Stop cancels the handlers' contexts
// and returns ctx's error at once; the server then keeps its group
// membership until the abandoned handlers return, produces their replies,
// commits what they finished and leaves. Stop is idempotent: a second Stop
// waits for what the first gave up on, as long as its own ctx allows.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }

// setup builds the kgo.Client and checks the cluster.
func (s *Server) setup(ctx context.Context) error {
	s.log = s.o.log
	if s.log == nil {
		s.log = transport.Logger(ctx)
	}
	group := s.o.group
	if group == "" {
		group = transport.ServiceName(ctx)
	}
	if group == "" {
		return errors.New("kafka: no consumer group: set WithGroup or run the server in a micro.Service")
	}
	s.group = group
	namespaces := s.mux.Namespaces()
	if len(namespaces) == 0 {
		return errors.New("kafka: the Mux has no routes to serve")
	}
	s.topics = make(map[string]string, len(namespaces))
	topics := make([]string, 0, len(namespaces)+1)
	for _, ns := range namespaces {
		s.topics[s.o.prefix+ns] = ns
		topics = append(topics, s.o.prefix+ns)
	}
	s.sem = make(chan struct{}, s.o.concurrency)
	s.parts.m = map[topicPartition]*worker{}
	s.pollDone = make(chan struct{})
	s.rebalance = make(chan struct{}, 1)
	// Before the client: it may join the group, and call back, at once.
	s.commits = newCommitter(s.log, s.o.commitWindow, s.parts.owned)
	s.health = newHealth(s.log, func(ctx context.Context) ([]string, error) {
		found, err := partitionsOf(ctx, s.cl, topics...)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, t := range topics {
			if len(found[t]) == 0 {
				missing = append(missing, t)
			}
		}
		return missing, nil
	})

	cl, err := kgo.NewClient(s.o.kgoOptions(
		[]kgo.Opt{
			kgo.ConsumerGroup(group),
			// Replies and dead letters are read by foreign clients too,
			// some with no compression codecs (kafkajs without plugins).
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			// A reply topic that is gone (its caller too) fails its reply
			// after one metadata refresh rather than kgo's four, which held
			// the partition for seconds.
			kgo.UnknownTopicRetries(1),
		},
		// What the delivery guarantee rests on, after the user's options.
		kgo.ConsumeTopics(topics...),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { signal(s.rebalance) }),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: client: %w", err)
	}
	if err := guard(cl, topics); err != nil {
		cl.Close()
		return err
	}
	s.cl = cl
	s.commits.cl = cl
	if err := s.checkTopics(ctx, append(topics, s.o.deadLetter)); err != nil {
		cl.Close()
		return err
	}
	s.commits.start()
	return nil
}

// checkTopics pings the cluster and makes sure topics exist (an empty name
// is skipped), creating them if so configured.
func (s *Server) checkTopics(ctx context.Context, topics []string) error {
	if err := s.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: no broker answered: %w", err)
	}
	var want []string
	for _, t := range topics {
		if t != "" && !slices.Contains(want, t) { // a dead-letter topic may be a namespace's
			want = append(want, t)
		}
	}
	found, err := partitionsOf(ctx, s.cl, want...)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range want {
		if _, ok := found[t]; !ok {
			missing = append(missing, t)
		}
	}
	switch {
	case len(missing) == 0:
		return nil
	case s.o.partitions == 0:
		return fmt.Errorf("kafka: missing topics %q (create them, or use WithCreateTopics)", missing)
	}
	return createTopics(ctx, s.cl, s.o.partitions, missing...)
}

// serve runs the poll loop until stop is closed.
func (s *Server) serve(stop <-chan struct{}) error {
	defer close(s.pollDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.health.watch(cancel)
	defer s.health.stop()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return s.poll(ctx)
}

// drain stops polling and tells every worker to stop after its record in
// flight; the lifecycle's Gate then waits for those records.
func (s *Server) drain(ctx context.Context) error {
	s.parts.quitAll()
	select {
	case <-s.pollDone: // first: serving lost has ended ctx and the poll alike
		return nil
	default:
	}
	select {
	case <-s.pollDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandon is called when Stop gave up on the records in flight, and when
// serving ended without Stop (a fatal consumer state), which gives up at
// once, whether records are in flight or not.
func (s *Server) abandon() {
	if n := s.Gate().InFlight(); n > 0 {
		s.log.Warn("kafka: Stop gave up on records in flight; the group is left once their handlers return",
			"in_flight", n)
	}
}

// release waits for the workers, commits what was handled, leaves the
// group and closes the client.
func (s *Server) release(ctx context.Context) error {
	s.parts.quitAll()
	s.parts.wg.Wait() // prompt: no record is in flight, and every worker was told to quit
	s.commits.stop(ctx)
	err := s.commits.commitMarked(ctx)
	if err != nil {
		s.log.Error("kafka: commit at stop", "err", err)
		err = fmt.Errorf("kafka: commit offsets: %w", err)
	}
	if lerr := s.cl.LeaveGroupContext(ctx); lerr != nil && err == nil {
		err = fmt.Errorf("kafka: leave group: %w", lerr)
	}
	s.cl.Close()
	return err
}
