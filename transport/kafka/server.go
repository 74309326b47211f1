package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over Kafka: it consumes the topic of each of the
// Mux's namespaces in a consumer group, dispatches each record to the
// service its micro-service header names, and answers requests that ask
// for a reply. Create it with NewServer; its methods are safe for
// concurrent use.
type Server struct {
	mux   *micro.Mux
	o     options
	ready chan struct{}
	done  chan struct{} // closed when Stop has finished; releases Start
	// released is closed once the group is left and the client closed,
	// after any handlers a Stop gave up on have returned.
	released chan struct{}

	mu       sync.Mutex
	state    int
	stopping bool // Stop was called

	// Set by Start before the server runs.
	cl         *kgo.Client
	log        *slog.Logger
	topics     map[string]string // topic -> namespace
	base       context.Context   // Start's values; cancelled when Stop gives up
	cancelBase context.CancelFunc
	sem        chan struct{} // bounds concurrent handlers
	pollCancel context.CancelFunc
	pollDone   chan struct{}
	commits    *committer
	parts      partitions
}

const (
	stateNew = iota
	stateStarting
	stateRunning
	stateStopped
)

// NewServer returns a Server for mux. It serves once Start is called.
func NewServer(mux *micro.Mux, opts ...Option) *Server {
	return &Server{mux: mux, o: newOptions(opts), ready: make(chan struct{}), done: make(chan struct{}),
		released: make(chan struct{})}
}

// String returns "kafka".
func (s *Server) String() string { return "kafka" }

// Ready returns a channel closed once Start has reached the brokers, found
// its topics and begun to join its consumer group. Records produced from
// then on are served; the group assigns partitions shortly after.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Start connects to the brokers, checks (or creates, with WithCreateTopics)
// the topics of the Mux's namespaces and the dead-letter topic, joins the
// consumer group and serves until Stop, then returns nil. It returns an
// error, bounded by ctx, if the Mux has no routes, no group is configured,
// no broker answers, or a topic is missing. ctx's values reach the
// handlers; cancelling ctx once serving does not stop the server.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateStarting, stateRunning:
		s.mu.Unlock()
		return errors.New("kafka: Start called twice")
	case stateStopped:
		s.mu.Unlock()
		return nil
	}
	s.state = stateStarting
	s.mu.Unlock()

	cl, err := s.setup(ctx)
	if err != nil {
		s.finish()
		return err
	}
	s.mu.Lock()
	if s.state == stateStopped { // Stop came during setup
		s.mu.Unlock()
		cl.Close()
		s.finish()
		return nil
	}
	s.state = stateRunning
	pollCtx, cancel := context.WithCancel(context.Background())
	s.pollCancel, s.pollDone = cancel, make(chan struct{})
	s.mu.Unlock()

	go s.commits.run()
	go s.poll(pollCtx)
	close(s.ready)
	<-s.done
	return nil
}

// setup builds the kgo.Client and checks the cluster.
func (s *Server) setup(ctx context.Context) (*kgo.Client, error) {
	s.log = s.o.log
	if s.log == nil {
		s.log = transport.Logger(ctx)
	}
	group := s.o.group
	if group == "" {
		group = transport.ServiceName(ctx)
	}
	if group == "" {
		return nil, errors.New("kafka: no consumer group: set WithGroup or run the server in a micro.Service")
	}
	namespaces := s.mux.Namespaces()
	if len(namespaces) == 0 {
		return nil, errors.New("kafka: the Mux has no routes to serve")
	}
	s.topics = make(map[string]string, len(namespaces))
	topics := make([]string, 0, len(namespaces)+1)
	for _, ns := range namespaces {
		s.topics[s.o.prefix+ns] = ns
		topics = append(topics, s.o.prefix+ns)
	}
	s.base, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	s.sem = make(chan struct{}, s.o.concurrency)
	s.parts.m = map[topicPartition]*worker{}

	cl, err := kgo.NewClient(s.o.kgoOptions(
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: client: %w", err)
	}
	s.cl = cl
	s.commits = newCommitter(cl, s.log, s.o.pollRecords)
	if err := s.checkTopics(ctx, append(topics, s.o.deadLetter)); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// checkTopics pings the cluster and makes sure topics exist (an empty name
// is skipped), creating them if so configured.
func (s *Server) checkTopics(ctx context.Context, topics []string) error {
	if err := s.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: no broker answered: %w", err)
	}
	var want []string
	for _, t := range topics {
		if t != "" {
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

// Stop stops fetching, lets the records in flight finish until ctx ends,
// commits the offsets of the records handled, leaves the group and closes
// the connections. Records fetched but not yet started are left to be
// consumed again. If ctx ends first, Stop cancels the handlers' contexts
// and returns ctx's error at once; the server then keeps its group
// membership until the abandoned handlers return, commits what they
// finished and leaves. Stop is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	prev, again := s.state, s.stopping
	s.state, s.stopping = stateStopped, true
	s.mu.Unlock()
	if again { // the first Stop does the work; wait for all of it as long as ctx allows
		select {
		case <-s.released:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var err error
	if prev == stateRunning {
		err = s.shutdown(ctx)
	} else {
		close(s.released)
	}
	s.finish()
	return err
}

// finish releases Start.
func (s *Server) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// shutdown stops a running server.
func (s *Server) shutdown(ctx context.Context) error {
	s.pollCancel()
	<-s.pollDone // the poll loop returns promptly: it never blocks on a handler
	drained := make(chan struct{})
	go func() {
		s.parts.stopAll()
		close(drained)
	}()
	select {
	case <-drained:
		defer close(s.released)
		return s.leave(ctx)
	case <-ctx.Done():
		s.cancelBase()
		go func() {
			defer close(s.released)
			<-drained
			lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.leave(lctx)
		}()
		return ctx.Err()
	}
}

// leave commits what was handled, leaves the group and closes the client.
func (s *Server) leave(ctx context.Context) error {
	s.commits.stop()
	err := s.cl.CommitMarkedOffsets(ctx)
	if err != nil {
		s.log.Error("kafka: commit at stop", "err", err)
		err = fmt.Errorf("kafka: commit offsets: %w", err)
	}
	if lerr := s.cl.LeaveGroupContext(ctx); lerr != nil && err == nil {
		err = fmt.Errorf("kafka: leave group: %w", lerr)
	}
	s.cl.Close()
	s.cancelBase()
	return err
}
