package jetstream

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// pull is the loop of one consumer: it pulls as many messages as it has
// free handler slots, so that no message waits in the process unhandled,
// and hands each to a handler goroutine. Pulls overlap: the next is sent
// while the messages of the last are handled. It returns once drain stops
// intake and its last pulls have ended (within fetchWait), the connection
// is closed, or the consumer is gone.
func (s *Server) pull(c *consumer) {
	defer s.loops.Done()
	var pulls sync.WaitGroup
	defer pulls.Wait()
	var open atomic.Int32           // pulls not yet ended
	ended := make(chan struct{}, 1) // signalled when a pull ends
	failed := make(chan error, 1)   // the last failure of a pull
	failures := 0
	for {
		n, ok := s.reserve(c, &open, ended)
		if !ok {
			return
		}
		batch, err := c.cons.Fetch(n, natsjs.FetchMaxWait(fetchWait))
		if err != nil {
			for range n {
				<-c.slots
			}
		} else {
			open.Add(1)
			pulls.Go(func() {
				got := 0
				for m := range batch.Messages() {
					got++
					s.start(c, m)
				}
				for ; got < n; got++ {
					<-c.slots
				}
				if err := batch.Error(); err != nil {
					select {
					case failed <- err:
					default:
					}
				}
				open.Add(-1)
				select {
				case ended <- struct{}{}:
				default:
				}
			})
			select {
			case err = <-failed:
			default:
			}
		}
		if err == nil {
			failures = 0
			continue
		}
		if s.nc.IsClosed() {
			return
		}
		if errors.Is(err, natsgo.ErrNoResponders) { // a pull to a consumer that is gone, or JetStream away
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, ierr := c.cons.Info(ctx); errors.Is(ierr, natsjs.ErrConsumerNotFound) {
				err = ierr
			}
			cancel()
		}
		if errors.Is(err, natsjs.ErrConsumerDeleted) || errors.Is(err, natsjs.ErrConsumerNotFound) {
			select {
			case s.lost <- micro.Errorf(micro.Unavailable, "jetstream: consumer %q of stream %q: %w", c.cons.CachedInfo().Name, c.stream, err):
			default:
			}
			return
		}
		s.log.Debug("jetstream: pull failed", "stream", c.stream, "err", err)
		failures++
		t := time.NewTimer(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second))
		select {
		case <-t.C:
		case <-s.stopIntake:
			t.Stop()
			return
		}
	}
}

// reserve takes handler slots of c for a pull and returns how many: at
// least one, and, while other pulls are open, at least a quarter of them,
// so that a busy server sends few small pulls; every free one beyond. It
// returns false once intake stops.
func (s *Server) reserve(c *consumer, open *atomic.Int32, ended <-chan struct{}) (int, bool) {
	select {
	case c.slots <- struct{}{}:
	case <-s.stopIntake:
		return 0, false
	}
	n, least := 1, max(1, cap(c.slots)/4)
take:
	for n < cap(c.slots) {
		select {
		case c.slots <- struct{}{}:
			n++
			continue
		default:
		}
		if n >= least || open.Load() == 0 {
			break
		}
		select {
		case c.slots <- struct{}{}:
			n++
		case <-ended: // look at open again
		case <-s.stopIntake:
			break take
		}
	}
	select {
	case <-s.stopIntake:
		for range n {
			<-c.slots
		}
		return 0, false
	default:
		return n, true
	}
}

// start hands one pulled message, which holds a slot of c, to an idle
// worker of c, or to a new worker if none is idle. Messages of a pull
// still in flight when intake stops are handled too: they are the
// process's already.
func (s *Server) start(c *consumer, m natsjs.Msg) {
	p := pulled{m: m, at: time.Now()}
	select {
	case c.work <- p:
	default:
		w := &worker{}
		w.outcome = func(err error) string { return s.outcome(&w.in, w.meta, transport.ErrorOf(err)) }
		w.take(p)
		c.enlist(w) // before it runs: the sweep sees m from now on
		s.workers.Add(1)
		go s.work(c, w, m)
	}
}

// pulled is a message handed to a worker, and when it was pulled. A nil
// message retires the worker.
type pulled struct {
	m  natsjs.Msg
	at time.Time
}

// work is the loop of worker w of c: it handles m, then each message
// start hands it, until it receives nil (the sweep retires it, or release
// ends it). A worker is reused so that a message costs neither a
// goroutine nor the growth of a fresh stack; there are at most as many as
// c has slots.
func (s *Server) work(c *consumer, w *worker, m natsjs.Msg) {
	defer s.workers.Done()
	defer c.discharge(w)
	for {
		s.handle(c, m, w)
		p := <-c.work
		if p.m == nil {
			return
		}
		w.take(p)
		m = p.m
	}
}

// handBack returns a message to JetStream unhandled, for redelivery once
// this server's pulls have ended, so that it goes to another server
// rather than back into a pull of this one.
func (s *Server) handBack(m natsjs.Msg) {
	s.settled(m, m.NakWithDelay(2*fetchWait), "nak")
}

// handle runs the handler of one message and settles it.
func (s *Server) handle(c *consumer, m natsjs.Msg, w *worker) {
	defer func() { <-c.slots }()
	if e := s.Gate().Enter(); e != nil { // Stop gave up on draining
		w.drop()
		s.handBack(m)
		return
	}
	defer s.Gate().Leave()
	meta, err := m.Metadata()
	if err != nil {
		meta = &natsjs.MsgMetadata{NumDelivered: 1}
	}
	subj := m.Subject()
	ns, service := "", ""
	for i, base := range c.bases {
		if strings.HasPrefix(subj, base) {
			ns, service = c.nss[i], subj[len(base):]
			break
		}
	}
	in := parse(ns, service, m.Headers(), m.Data())
	if limit := s.o.retry.Retries + 1 + redeliveries; meta.NumDelivered > uint64(limit) {
		// Delivered more often than failures and Stops explain: its
		// handler may be what takes the process down. It does not run again.
		w.drop()
		s.fail(m, meta, &in, transport.Reply{Err: micro.Errorf(micro.Internal,
			"jetstream: message delivered %d times, more than %d, without being settled", meta.NumDelivered, limit)})
		return
	}
	if err == nil {
		in.req.Attrs = []slog.Attr{
			slog.String("messaging.consumer.group.name", meta.Consumer),
			slog.Uint64("micro.jetstream.stream.sequence", meta.Sequence.Stream),
			slog.Uint64("micro.delivery.attempt", meta.NumDelivered),
		}
	}
	// Outcome reads a copy of the message in the worker, which holds it
	// until the next message: RequestInfo.Outcome may be called only
	// while the handler's middleware runs. So neither the message nor a
	// closure is allocated.
	w.in, w.meta = in, meta
	in.req.Outcome = w.outcome
	rep := s.d.Serve(s.Base(), &in.req)
	w.drop()
	s.settle(m, meta, &in, rep)
}

// settle acknowledges a handled message by its outcome: Ack on success;
// Nak if Stop gave up on the handler, so that it is redelivered; a delayed
// Nak for a retryable failure with redeliveries left; else Term, with the
// error to the caller of a request, or the message to the dead-letter
// subject.
func (s *Server) settle(m natsjs.Msg, meta *natsjs.MsgMetadata, in *incoming, rep transport.Reply) {
	e := rep.Err
	switch {
	case e == nil:
		s.reply(in, rep)
		s.settled(m, m.Ack(), "ack")
	case s.Base().Err() != nil:
		// Stop gave up on the handler: its caller hears of it, and the
		// message is handled again by the next consumer.
		s.reply(in, rep)
		s.handBack(m)
	case s.retryable(in, e, meta):
		s.settled(m, m.NakWithDelay(s.o.retry.Delay(int(meta.NumDelivered)-1)), "nak")
	default:
		s.fail(m, meta, in, rep)
	}
}

// fail terminates a message that failed for good, after answering its
// caller with the error or, for a one-way message, publishing it to the
// dead-letter subject.
func (s *Server) fail(m natsjs.Msg, meta *natsjs.MsgMetadata, in *incoming, rep transport.Reply) {
	if in.replyTo != "" {
		s.reply(in, rep) // the error is its caller's, not a dead letter
	} else {
		s.deadLetter(m, meta, rep.Err)
	}
	s.settled(m, m.TermWithReason(rep.Err.Code.String()), "term")
}

// retryable reports whether a failed message is redelivered: a retryable
// code, redeliveries left, its deadline, if any, not passed, and a message
// the server could serve at all (not over the size limit, which no retry
// changes).
func (s *Server) retryable(in *incoming, e *micro.Error, meta *natsjs.MsgMetadata) bool {
	return in.req.Err == nil && len(in.req.Body) <= s.o.max && s.o.retry.Retry(int(meta.NumDelivered)-1, e.Code) &&
		(in.req.Deadline.IsZero() || time.Now().Before(in.req.Deadline))
}

// outcome tells what settle does with a message whose handler failed
// with e (nil for none), unless Stop gives up on it; see
// [micro.RequestInfo.Outcome].
func (s *Server) outcome(in *incoming, meta *natsjs.MsgMetadata, e *micro.Error) string {
	switch {
	case e == nil:
		return "ack"
	case s.retryable(in, e, meta):
		return "retry"
	case in.replyTo != "":
		return "reply"
	case s.o.deadLetter != "":
		return "dead_letter"
	}
	return "drop"
}

// settled logs an acknowledgement that could not be sent.
func (s *Server) settled(m natsjs.Msg, err error, what string) {
	if err != nil && !errors.Is(err, natsjs.ErrMsgAlreadyAckd) {
		s.log.Warn("jetstream: "+what+" not sent; the message will be redelivered", "subject", m.Subject(), "err", err)
	}
}

// reply publishes the reply of a request to its reply subject. A reply
// over the NATS server's max_payload is answered with ResourceExhausted.
func (s *Server) reply(in *incoming, rep transport.Reply) {
	if in.replyTo == "" {
		return
	}
	err := s.nc.PublishMsg(replyMsg(in.replyTo, rep))
	if errors.Is(err, natsgo.ErrMaxPayload) {
		err = s.nc.PublishMsg(replyMsg(in.replyTo, transport.Reply{Err: micro.Errorf(micro.ResourceExhausted,
			"jetstream: reply of %d bytes with headers exceeds the NATS server's max_payload of %d", len(rep.Body), s.nc.MaxPayload())}))
	}
	if err != nil {
		s.log.Warn("jetstream: reply not sent", "namespace", in.req.Namespace, "service", in.req.Service, "reply_to", in.replyTo, "err", err)
	}
}

// deadLetter publishes a one-way message that failed for good to the
// dead-letter subject and waits for JetStream's acknowledgement, or logs
// it if there is none. A dead letter that cannot be published is logged:
// the message is terminated either way, so that it cannot loop.
// hdrDeliveries on a dead letter says how often the message was delivered.
const hdrDeliveries = "Micro-Deliveries"

func (s *Server) deadLetter(m natsjs.Msg, meta *natsjs.MsgMetadata, e *micro.Error) {
	attrs := []any{"subject", m.Subject(), "stream", meta.Stream, "sequence", meta.Sequence.Stream,
		"deliveries", meta.NumDelivered, "code", e.Code.String(), "err", e.Message}
	if s.o.deadLetter == "" {
		s.log.Warn("jetstream: message failed; terminated", attrs...)
		return
	}
	dl := &natsgo.Msg{Subject: s.o.deadLetter, Data: m.Data(), Header: make(natsgo.Header, len(m.Headers())+5)}
	for k, vs := range m.Headers() {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") { // the original publish's directives
			dl.Header[k] = vs
		}
	}
	natsconn.WriteError(dl.Header, e)
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	dl.Header[hdrSubject] = []string{m.Subject()}
	dl.Header[hdrStream] = []string{meta.Stream}
	dl.Header[hdrSequence] = []string{seq}
	dl.Header[hdrDeliveries] = []string{strconv.FormatUint(meta.NumDelivered, 10)}
	// The id makes a second dead letter of the same message (terminated
	// once, redelivered before the Term arrived) a duplicate.
	if _, err := s.js.PublishMsg(context.Background(), dl, natsjs.WithMsgID(meta.Stream+"."+seq)); err != nil {
		s.log.Error("jetstream: dead letter not published; message terminated", append(attrs, "dead_letter_err", err)...)
		return
	}
	s.log.Warn("jetstream: message failed; sent to the dead-letter subject", append(attrs, "dead_letter", s.o.deadLetter)...)
}

// worker is the state of one worker: what its handler's Outcome reads,
// and, for the sweep, the message it holds and since when it holds it
// unextended.
type worker struct {
	// Read by the worker's handler only.
	in      incoming               // the message being handled, for outcome
	meta    *natsjs.MsgMetadata    // its metadata
	outcome func(err error) string // RequestInfo.Outcome of its messages

	mu    sync.Mutex
	m     natsjs.Msg // nil while idle
	since time.Time  // when m was pulled, or last extended
	idle  int        // sweeps in a row that found it idle
}

// take makes w hold p's message, from now on extended by the sweep as
// held since it was pulled.
func (w *worker) take(p pulled) {
	w.mu.Lock()
	w.m, w.since, w.idle = p.m, p.at, 0
	w.mu.Unlock()
}

// drop ends the extension of w's message, before it is settled: once it
// returns, the sweep sends no InProgress for it.
func (w *worker) drop() {
	w.mu.Lock()
	w.m = nil
	w.mu.Unlock()
}

func (c *consumer) enlist(w *worker) {
	c.mu.Lock()
	c.workers[w] = struct{}{}
	c.mu.Unlock()
}

func (c *consumer) discharge(w *worker) {
	c.mu.Lock()
	delete(c.workers, w)
	c.mu.Unlock()
}

// sweepEvery is the period of the sweep as a fraction of AckWait: a
// message held for two fifths of its AckWait is extended within a tenth
// more, so at most half of AckWait after it was pulled or last extended.
const sweepEvery = 10

// sweep runs until release. Every AckWait/sweepEvery it extends, with
// InProgress, each message that a worker has held unextended for two
// fifths of AckWait, running or not, so that no message held by the process is
// redelivered meanwhile; and it retires the workers that it found idle
// twice in a row, so that a burst's workers do not stay for good. One
// timer serves every message.
func (s *Server) sweep() {
	defer s.sweeping.Done()
	t := time.NewTicker(max(s.o.ackWait/sweepEvery, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.done:
			return
		}
		now := time.Now()
		for _, c := range s.consumers {
			c.mu.Lock()
			retire := 0
			for w := range c.workers {
				w.mu.Lock()
				switch {
				case w.m == nil:
					if w.idle++; w.idle >= 2 {
						retire++
					}
				case now.Sub(w.since) >= s.o.ackWait*2/5:
					if err := w.m.InProgress(); err != nil {
						s.log.Debug("jetstream: in-progress not sent", "subject", w.m.Subject(), "err", err)
					}
					w.since = now
				}
				w.mu.Unlock()
			}
			c.mu.Unlock()
		retiring:
			for ; retire > 0; retire-- {
				select {
				case c.work <- pulled{}: // to whichever worker is idle
				default:
					break retiring
				}
			}
		}
	}
}
