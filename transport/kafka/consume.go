package kafka

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The consuming follows franz-go's recommended pattern for processing
// partitions concurrently with at-least-once delivery
// (examples/goroutine_per_partition_consuming/autocommit_marks): the
// client blocks rebalances while a poll is dispatched (BlockRebalanceOnPoll),
// each partition has a worker goroutine that handles its records in order
// and marks each one once it is done (AutoCommitMarks), and when a
// partition is revoked its worker finishes the record in flight and the
// marks are committed before the rebalance goes on. So the next owner of a
// partition starts right after the last record handled here.
//
// The poll loop never holds a rebalance for a worker: it hands a
// partition's records to the partition's worker, waiting while the worker
// has queueHigh records queued (backpressure, as a bounded channel gives),
// but only until the client says that a rebalance waits for the poll
// (OnPartitionsCallbackBlocked). Then it queues the records anyway,
// pauses fetching each partition whose worker is full
// (PauseFetchPartitions) until the worker is down to queueLow, and lets
// the rebalance run. So a rebalance (the member's own rejoin after it lost
// its generation included) never waits for a handler or the commit window,
// and fetching is paused only then: a pause drops the client's buffered
// records of the partition, to be fetched again.

type topicPartition struct {
	topic     string
	partition int32
}

// partitions holds the workers of the assigned partitions.
type partitions struct {
	mu      sync.Mutex
	m       map[topicPartition]*worker
	stopped bool // set by quitAll: no new workers
	wg      sync.WaitGroup
}

// worker handles the records of one partition, in order.
type worker struct {
	tp    topicPartition
	ns    string
	names names         // used by the worker's goroutine only
	ready chan struct{} // capacity 1: records were queued
	room  chan struct{} // capacity 1: the queue went below queueHigh
	quit  chan struct{} // closed to stop after the record in flight
	done  chan struct{}

	mu     sync.Mutex
	queue  [][]*kgo.Record
	queued int  // records in queue
	paused bool // fetching of tp is paused until the queue is down to queueLow

	// The record in flight, used by the worker's goroutine only: a worker
	// handles one record at a time.
	in          incoming
	attempt     int                    // the attempt in flight, from 0
	outcome     func(err error) string // the RequestInfo.Outcome of every attempt: reads in and attempt
	partition   string                 // tp.partition in decimal
	replyHeader micro.Header           // the RequestInfo.ReplyHeader of every attempt, emptied after each
	offset      int64                  // the offset of the record in flight
	attrs       iter.Seq[slog.Attr]    // the RequestInfo.Attrs of every attempt: reads partition, offset and attempt
}

// A worker's queue bounds: the poll loop waits while a worker has
// queueHigh records queued, or, when a rebalance waits, pauses fetching
// the partition until it is down to queueLow.
const (
	queueHigh = 4 * defaultPollRecords
	queueLow  = defaultPollRecords
)

// push queues recs on w unless its queue is full, and reports whether it
// did. If force, it queues them anyway, pausing w's partition if the queue
// is full. It never blocks on the worker.
func (w *worker) push(cl *kgo.Client, recs []*kgo.Record, force bool) bool {
	w.mu.Lock()
	if w.queued >= queueHigh {
		if !force {
			w.mu.Unlock()
			return false
		}
		if !w.paused {
			w.paused = true
			cl.PauseFetchPartitions(map[string][]int32{w.tp.topic: {w.tp.partition}})
		}
	}
	w.queue = append(w.queue, recs)
	w.queued += len(recs)
	w.mu.Unlock()
	signal(w.ready)
	return true
}

// signal sends on ch, of capacity 1, unless a send is pending.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// pop takes the oldest batch queued on w, or nil, and resumes fetching w's
// partition once the queue is down to queueLow.
func (w *worker) pop(cl *kgo.Client) []*kgo.Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	recs := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	if w.queued >= queueHigh && w.queued-len(recs) < queueHigh {
		signal(w.room)
	}
	w.queued -= len(recs)
	if w.paused && w.queued <= queueLow {
		w.paused = false
		cl.ResumeFetchPartitions(map[string][]int32{w.tp.topic: {w.tp.partition}})
	}
	return recs
}

// poll fetches records and queues each partition's records on its worker
// until ctx is cancelled; it returns an error if it ends otherwise: the
// client closed, or a consumer state that does not recover (see health).
func (s *Server) poll(ctx context.Context) error {
	defer s.cl.AllowRebalance()
	for {
		fetches := s.cl.PollRecords(ctx, s.o.pollRecords)
		if ctx.Err() != nil {
			return s.health.failure() // nil: Stop
		}
		if fetches.IsClientClosed() {
			return errors.New("client closed") // Start says "kafka: " before it
		}
		var fatal error
		fetches.EachError(func(topic string, partition int32, err error) {
			if ferr := s.health.fetchError(topic, partition, err); ferr != nil && fatal == nil {
				fatal = ferr
			}
		})
		if fatal != nil {
			return fatal
		}
		hurry := false // a rebalance waits for this poll
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			s.parts.mu.Lock()
			w, stopping := s.parts.m[topicPartition{p.Topic, p.Partition}], s.parts.stopped
			s.parts.mu.Unlock()
			if w == nil && stopping {
				return // Stop has begun: left for the partition's next owner
			}
			if w == nil { // BlockRebalanceOnPoll makes this impossible; never drop silently
				s.log.Error("kafka: records of an unassigned partition", "topic", p.Topic, "partition", p.Partition)
				return
			}
			for !w.push(s.cl, p.Records, hurry) {
				select { // the worker is full: backpressure, until a rebalance waits
				case <-w.room:
				case <-s.rebalance:
					hurry = true
				case <-w.done: // stopped: its records are consumed again by the next owner
					return
				case <-ctx.Done():
					return
				}
			}
		})
		s.cl.AllowRebalance()
	}
}

// newWorker returns a worker of tp, not yet running.
func (s *Server) newWorker(tp topicPartition) *worker {
	w := &worker{
		tp: tp, ns: s.topics[tp.topic],
		ready: make(chan struct{}, 1), room: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		partition: strconv.Itoa(int(tp.partition)), replyHeader: micro.Header{},
	}
	w.outcome = func(err error) string { return s.outcome(&w.in, w.attempt, transport.ErrorOf(err)) }
	w.attrs = func(yield func(slog.Attr) bool) {
		_ = yield(slog.String("messaging.destination.partition.id", w.partition)) &&
			yield(slog.Int64("messaging.kafka.offset", w.offset)) &&
			yield(slog.String("messaging.consumer.group.name", s.group)) &&
			yield(slog.Int("micro.delivery.attempt", w.attempt+1))
	}
	return w
}

// assigned starts a worker for each assigned partition, fetching it.
func (s *Server) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	s.commits.rejoined()
	cl.ResumeFetchPartitions(assigned) // a pause is the client's until resumed, across assignments
	s.parts.mu.Lock()
	defer s.parts.mu.Unlock()
	if s.parts.stopped {
		return
	}
	for topic, ps := range assigned {
		for _, p := range ps {
			if s.parts.m[topicPartition{topic, p}] != nil {
				continue // already ours: cooperative balancing only reports additions, but be sure
			}
			w := s.newWorker(topicPartition{topic, p})
			s.parts.m[w.tp] = w
			s.parts.wg.Add(1)
			go s.run(w)
		}
	}
	s.log.Debug("kafka: partitions assigned", "partitions", assigned)
}

// revoked stops the workers of the revoked partitions, each after its
// record in flight, and commits what they handled once the background
// commit under way is done (see committer), so that the partitions' next
// owners start where these left off.
func (s *Server) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	s.parts.stop(cl, revoked)
	if err := s.commits.commitMarked(ctx); err != nil {
		s.log.Error("kafka: commit on revoke", "partitions", revoked, "err", err)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) { // where the partitions' next owners start
		s.log.Debug("kafka: partitions revoked", "partitions", revoked, "committed", offsetsOf(cl.CommittedOffsets(), revoked))
	}
}

// lost stops the workers of partitions lost to a group error (the member
// lost its generation: its session expired, the broker forgot the group,
// the coordinator moved) and releases the commit window: the marks not
// committed are dropped with the partitions, and those records are handled
// again by the partitions' next owners, this member once it rejoined
// included.
func (s *Server) lost(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	s.parts.stop(cl, lost)
	dropped := s.commits.lost()
	s.log.Warn("kafka: partitions lost; rejoining the group", "partitions", lost, "uncommitted", dropped)
}

// stop stops the workers of the given partitions, waits for them and
// resumes the fetching of those they paused.
func (ps *partitions) stop(cl *kgo.Client, parts map[string][]int32) {
	var ws []*worker
	ps.mu.Lock()
	for topic, list := range parts {
		for _, p := range list {
			tp := topicPartition{topic, p}
			if w := ps.m[tp]; w != nil {
				delete(ps.m, tp)
				ws = append(ws, w)
			}
		}
	}
	ps.mu.Unlock()
	for _, w := range ws {
		close(w.quit)
	}
	paused := map[string][]int32{}
	for _, w := range ws {
		<-w.done
		w.mu.Lock()
		if w.paused {
			paused[w.tp.topic] = append(paused[w.tp.topic], w.tp.partition)
		}
		w.mu.Unlock()
	}
	if len(paused) > 0 {
		cl.ResumeFetchPartitions(paused)
	}
}

// quitAll tells every worker to stop after its record in flight, and keeps
// new ones from starting; wg then waits for them, those stopped by a
// concurrent revoke included. A second call does nothing.
func (ps *partitions) quitAll() {
	ps.mu.Lock()
	ps.stopped = true
	ws := ps.m
	ps.m = map[topicPartition]*worker{}
	ps.mu.Unlock()
	for _, w := range ws {
		close(w.quit)
	}
}

// run handles w's records until w is stopped, one batch at a time while
// holding one of the server's concurrency slots. A record that could not
// be finished (its worker stopped during a retry, or Stop gave up on it)
// is not marked, and neither is any later record of the partition, so it
// is consumed again by the partition's next owner.
func (s *Server) run(w *worker) {
	defer s.parts.wg.Done()
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			return
		case <-w.ready:
		}
		for recs := w.pop(s.cl); recs != nil; recs = w.pop(s.cl) {
			select {
			case <-w.quit:
				return
			case s.sem <- struct{}{}:
			}
			if stopped(w) { // select picks at random among ready cases
				<-s.sem
				return
			}
			finished := s.runBatch(w, recs)
			<-s.sem
			if !finished { // stopped, or a record unfinished:
				<-w.quit // hold the partition's position until it moves
				return
			}
		}
	}
}

// stopped reports whether w was told to stop: then it starts no record.
func stopped(w *worker) bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// runBatch handles recs in order until one cannot be finished or w is
// stopped, and reports whether all were finished. It handles a record
// only while the records handled but not committed are fewer than the
// commit window. A record is in the server's Gate from before its handler
// runs until it is marked, so that Stop commits it once the Gate is empty.
// Finished records are marked together (see marks): at most markEvery of
// them, or those of markAfter, before the next record starts, and always
// before the worker waits for the window or returns.
func (s *Server) runBatch(w *worker, recs []*kgo.Record) bool {
	m := marks{s: s, recs: recs}
	defer m.flush()
	for i, r := range recs {
		if stopped(w) {
			return false
		}
		if !s.commits.tryReserve() {
			m.flush() // the window waits for these
			if !s.commits.reserve(w.quit) {
				return false
			}
		}
		if s.Gate().Enter() != nil { // Stop has begun: start no further record
			s.commits.release()
			return false
		}
		if !s.handle(w, r) {
			s.commits.release()
			s.Gate().Leave()
			return false
		}
		m.finished(i)
	}
	return true
}

// Finished records are marked together, by the last of them, when
// markEvery of them are, or markAfter passed since the first: a batch of
// quick records costs one mark, and a slow record is marked when done.
const (
	markEvery = 64
	markAfter = time.Millisecond
)

// marks are a worker's records finished but not yet marked: recs[next-n:next],
// each in the server's Gate and reserved in the commit window.
type marks struct {
	s     *Server
	recs  []*kgo.Record
	next  int // recs[next-1] is the last finished
	n     int
	since time.Time // when the first was finished
}

// finished adds recs[i], the record after the last one added, and marks
// them all if it is time.
func (m *marks) finished(i int) {
	m.next = i + 1
	if m.n++; m.n == 1 {
		m.since = time.Now()
	}
	if m.n >= markEvery || time.Since(m.since) >= markAfter {
		m.flush()
	}
}

// flush marks the finished records, counts them in the commit window and
// lets them out of the Gate.
func (m *marks) flush() {
	if m.n == 0 {
		return
	}
	m.s.cl.MarkCommitRecords(m.recs[m.next-1 : m.next]...) // the last marks all: without a slice of its own to allocate
	m.s.commits.marked(m.n)
	for range m.n {
		m.s.Gate().Leave()
	}
	m.n = 0
}
