package jetstream

import (
	"context"
	"errors"
	"iter"
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

// inlineFor is how long a head runs a handler before another goroutine
// takes over reading the pulls: a handler that returns within it costs no
// hand-off to another goroutine; one that runs longer holds up the
// messages behind it by no more than that.
const inlineFor = 100 * time.Microsecond

// head reads the inbox of c and handles each message itself, on the
// goroutine that reads it, as long as its handler returns within
// inlineFor; once one runs longer, a new head takes over reading and this
// one ends with its handler. So there is one reader of the inbox, every
// handler has a goroutine of its own while it runs long, and a quick one
// costs no hand-off. A head holds a worker, enlisted for the sweep from
// its first message until the sweep finds it idle. Once the pull loop has ended (quit), the head
// hands back what is left in the inbox and ends.
func (s *Server) head(c *consumer) {
	defer s.workers.Done()
	w := &worker{replyHeader: micro.Header{}}
	w.outcome = func(err error) string { return s.outcome(&w.in, w.meta, transport.ErrorOf(err)) }
	w.attrs = func(yield func(slog.Attr) bool) {
		_ = yield(slog.String("messaging.consumer.group.name", w.meta.Consumer)) &&
			yield(slog.Uint64("micro.jetstream.stream.sequence", w.meta.Sequence.Stream)) &&
			yield(slog.Uint64("micro.delivery.attempt", w.meta.NumDelivered))
	}
	defer c.discharge(w)
	// The timer runs f on a goroutine of its own: took tells this head
	// that f has counted the new head, so that this one's Done comes
	// after that Add and the group is not at zero meanwhile.
	took := make(chan struct{}, 1)
	takeover := time.AfterFunc(time.Hour, func() {
		s.workers.Add(1)
		go s.head(c)
		took <- struct{}{}
	})
	takeover.Stop()
	for {
		var m *natsgo.Msg
		select {
		case m = <-c.msgs:
		default:
			select {
			case m = <-c.msgs:
			case <-c.quit: // the inbox gets nothing more: read what is left
				select {
				case m = <-c.msgs:
				default:
					return
				}
			}
		}
		if m.Reply == "" && len(m.Data) == 0 && m.Header.Get(hdrStatus) != "" {
			s.status(c, m)
			continue
		}
		if !c.claim() {
			// Of a forgotten pull, with no free slot: another pull, or
			// another server, gets it.
			s.handBack(m)
			continue
		}
		// Held since it was pulled: at most inlineFor (and the time to
		// schedule a head) before it was read.
		w.take(pulled{m: m, at: time.Now().Add(-inlineFor)})
		if !w.listed.Load() {
			c.enlist(w) // before it runs: the sweep sees m from now on
		}
		takeover.Reset(inlineFor)
		s.handle(c, m, w)
		if !takeover.Stop() {
			<-took
			return // another head reads the inbox now
		}
	}
}

// pulled is a message a worker holds, and when it was pulled.
type pulled struct {
	m  *natsgo.Msg
	at time.Time
}

// handBack returns a message to JetStream unhandled, for redelivery once
// this server's pulls have ended, so that it goes to another server
// rather than back into a pull of this one.
func (s *Server) handBack(m *natsgo.Msg) {
	s.settled(m, s.nak(m, 2*fetchWait), "nak")
}

// handle runs the handler of one message and settles it.
func (s *Server) handle(c *consumer, m *natsgo.Msg, w *worker) {
	defer func() { <-c.slots }()
	if e := s.Gate().Enter(); e != nil { // Stop gave up on draining
		w.drop()
		s.handBack(m)
		return
	}
	defer s.Gate().Leave()
	meta, err := w.metadata(m)
	if err != nil {
		meta = &natsjs.MsgMetadata{NumDelivered: 1}
	}
	subj := m.Subject
	ns, service := "", ""
	for i, base := range c.bases {
		if strings.HasPrefix(subj, base) {
			ns, service = c.nss[i], subj[len(base):]
			break
		}
	}
	in := parse(ns, service, m.Header, m.Data)
	if limit := s.o.retry.Retries + 1 + redeliveries; meta.NumDelivered > uint64(limit) {
		// Delivered more often than failures and Stops explain: its
		// handler may be what takes the process down. It does not run again.
		w.drop()
		s.fail(m, meta, &in, transport.Reply{Err: micro.Errorf(micro.Internal,
			"jetstream: message delivered %d times, more than %d, without being settled", meta.NumDelivered, limit)})
		return
	}
	if err == nil {
		in.req.Attrs = w.attrs
	}
	// Outcome and Attrs read a copy of the message in the worker, which
	// holds it until the next message: RequestInfo.Outcome and Attrs may be
	// used only while the handler's middleware runs. So neither the
	// message, its attributes nor a closure is allocated.
	w.in, w.meta = in, meta
	in.req.Outcome, in.req.ReplyHeader = w.outcome, w.replyHeader
	rep := s.d.Serve(s.Base(), &in.req)
	w.drop()
	s.settle(m, meta, &in, rep)
}

// settle acknowledges a handled message by its outcome: Ack on success;
// Nak if Stop gave up on the handler, so that it is redelivered; a delayed
// Nak for a retryable failure with redeliveries left; else Term, with the
// error to the caller of a request, or the message to the dead-letter
// subject.
func (s *Server) settle(m *natsgo.Msg, meta *natsjs.MsgMetadata, in *incoming, rep transport.Reply) {
	e := rep.Err
	switch {
	case e == nil:
		s.reply(in, rep)
		s.settled(m, s.nc.Publish(m.Reply, ackAck), "ack")
	case s.Base().Err() != nil:
		// Stop gave up on the handler: its caller hears of it, and the
		// message is handled again by the next consumer.
		s.reply(in, rep)
		s.handBack(m)
	case s.retryable(in, e, meta):
		s.settled(m, s.nak(m, s.o.retry.Delay(int(meta.NumDelivered)-1)), "nak")
	default:
		s.fail(m, meta, in, rep)
	}
}

// fail terminates a message that failed for good, after answering its
// caller with the error or, for a one-way message, publishing it to the
// dead-letter subject.
func (s *Server) fail(m *natsgo.Msg, meta *natsjs.MsgMetadata, in *incoming, rep transport.Reply) {
	if in.replyTo != "" {
		s.reply(in, rep) // the error is its caller's, not a dead letter
	} else {
		s.deadLetter(m, meta, rep.Err)
	}
	s.settled(m, s.nc.Publish(m.Reply, []byte(ackTerm+rep.Err.Code.String())), "term")
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
	return transport.Outcome(e, func() bool { return s.retryable(in, e, meta) }, in.replyTo != "", s.o.deadLetter != "")
}

// settled logs an acknowledgement that could not be sent.
func (s *Server) settled(m *natsgo.Msg, err error, what string) {
	if err != nil {
		s.log.Warn("jetstream: "+what+" not sent; the message will be redelivered", "subject", m.Subject, "err", err)
	}
}

// The acknowledgements of JetStream, published to a message's reply
// subject, as nats.go's Msg methods send them.
var (
	ackAck      = []byte("+ACK")
	ackProgress = []byte("+WPI")
	ackTerm     = "+TERM " // and the reason
)

// nak hands m back for redelivery after delay.
func (s *Server) nak(m *natsgo.Msg, delay time.Duration) error {
	b := make([]byte, 0, 40)
	b = append(b, `-NAK {"delay": `...)
	b = strconv.AppendInt(b, delay.Nanoseconds(), 10)
	return s.nc.Publish(m.Reply, append(b, '}'))
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

func (s *Server) deadLetter(m *natsgo.Msg, meta *natsjs.MsgMetadata, e *micro.Error) {
	attrs := []any{"subject", m.Subject, "stream", meta.Stream, "sequence", meta.Sequence.Stream,
		"deliveries", meta.NumDelivered, "code", e.Code.String(), "err", e.Message}
	if s.o.deadLetter == "" {
		s.log.Warn("jetstream: message failed; terminated", attrs...)
		return
	}
	dl := &natsgo.Msg{Subject: s.o.deadLetter, Data: m.Data, Header: make(natsgo.Header, len(m.Header)+5)}
	for k, vs := range m.Header {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") { // the original publish's directives
			dl.Header[k] = vs
		}
	}
	natsconn.WriteError(dl.Header, e)
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	dl.Header[hdrSubject] = []string{m.Subject}
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

// worker is the state of one head: what its handler's Outcome reads,
// and, for the sweep, the message it holds and since when it holds it
// unextended.
type worker struct {
	// Read by the worker's handler only.
	in          incoming               // the message being handled, for outcome
	meta        *natsjs.MsgMetadata    // its metadata: md, or a stand-in
	md          natsjs.MsgMetadata     // the metadata of its message, reused
	outcome     func(err error) string // RequestInfo.Outcome of its messages
	replyHeader micro.Header           // RequestInfo.ReplyHeader of its messages, emptied after each
	attrs       iter.Seq[slog.Attr]    // RequestInfo.Attrs of its messages: reads meta

	listed atomic.Bool // in c.workers: set by enlist, cleared by the sweep, under c.mu

	mu    sync.Mutex
	m     *natsgo.Msg // nil while idle
	since time.Time   // when m was pulled, or last extended
	idle  bool        // m was nil at the last sweep
}

// metadata returns the metadata of m, read from its reply subject into
// w's own, so that a message's metadata costs no allocation.
func (w *worker) metadata(m *natsgo.Msg) (*natsjs.MsgMetadata, error) {
	if parseAck(m.Reply, &w.md) {
		return &w.md, nil
	}
	return nil, natsjs.ErrNotJSMessage
}

// parseAck reads JetStream's acknowledgement subject into md, as nats.go's
// Metadata does: "$JS.ACK.<stream>.<consumer>.<delivered>.<stream
// seq>.<consumer seq>.<time>.<pending>", or, from newer servers, with
// "<domain>.<account hash>." after "$JS.ACK." and any tokens after the
// pending count. It reports false for any other subject.
func parseAck(reply string, md *natsjs.MsgMetadata) bool {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return false
	}
	var tok [11]string
	n := 0
	for n < len(tok) && rest != "" {
		tok[n], rest, _ = strings.Cut(rest, ".")
		n++
	}
	domain, t := "", tok[:7]
	switch {
	case n == 7:
	case n >= 9:
		if domain, t = tok[0], tok[2:9]; domain == "_" {
			domain = ""
		}
	default:
		return false
	}
	var nums [5]uint64
	for i, s := range t[2:] {
		v, ok := atou(s)
		if !ok {
			return false
		}
		nums[i] = v
	}
	md.Domain, md.Stream, md.Consumer = domain, t[0], t[1]
	md.NumDelivered, md.Sequence.Stream, md.Sequence.Consumer = nums[0], nums[1], nums[2]
	md.Timestamp, md.NumPending = time.Unix(0, int64(nums[3])), nums[4]
	return true
}

// atou reads a decimal number as strconv.ParseUint does, without its
// error value for the numbers of up to 19 digits (which cannot overflow).
func atou(s string) (uint64, bool) {
	if len(s) > 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		return v, err == nil
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := range len(s) {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return v, true
}

// take makes w hold p's message, from now on extended by the sweep as
// held since it was pulled.
func (w *worker) take(p pulled) {
	w.mu.Lock()
	w.m, w.since, w.idle = p.m, p.at, false
	w.mu.Unlock()
}

// drop ends the extension of w's message, before it is settled: once it
// returns, the sweep sends no InProgress for it.
func (w *worker) drop() {
	w.mu.Lock()
	w.m = nil
	w.mu.Unlock()
}

// enlist makes the sweep look at w, which holds a message (take first:
// a sweep that retired w before it took its message cleared listed
// under w.mu, so it is seen).
func (c *consumer) enlist(w *worker) {
	c.mu.Lock()
	c.workers[w] = struct{}{}
	w.listed.Store(true)
	c.mu.Unlock()
}

// discharge retires w, whose head ends.
func (c *consumer) discharge(w *worker) {
	c.mu.Lock()
	delete(c.workers, w)
	w.listed.Store(false)
	c.mu.Unlock()
}

// sweepEvery is the period of the sweep as a fraction of AckWait: a
// message held for two fifths of its AckWait is extended within a tenth
// more, so at most half of AckWait after it was pulled or last extended.
const sweepEvery = 10

// sweep runs until release. Every AckWait/sweepEvery it extends, with
// InProgress, each message that a worker has held unextended for two
// fifths of AckWait, running or not, so that no message held by the
// process is redelivered meanwhile. One timer serves every message. A
// worker found idle at two sweeps in a row is retired until its head
// takes a message again.
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
			for w := range c.workers {
				w.mu.Lock()
				if w.m != nil && now.Sub(w.since) >= s.o.ackWait*2/5 {
					if err := s.nc.Publish(w.m.Reply, ackProgress); err != nil {
						s.log.Debug("jetstream: in-progress not sent", "subject", w.m.Subject, "err", err)
					}
					w.since = now
				}
				switch {
				case w.m != nil:
				case w.idle:
					delete(c.workers, w)
					w.listed.Store(false)
				default:
					w.idle = true
				}
				w.mu.Unlock()
			}
			c.mu.Unlock()
		}
	}
}
