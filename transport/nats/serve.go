package nats

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// subscribeNamespace serves every service of ns from one queue subscription
// on "[prefix.]ns.*"; the Mux answers NotFound for a service it lacks. It
// starts the subscription's first reader.
func (s *Server) subscribeNamespace(ns string) (*intake, error) {
	base := natsconn.Subject(s.o.prefix, ns, "")
	in := &intake{s: s, ns: ns, base: base, ch: make(chan *natsgo.Msg, max(s.nc.Opts.SubChanLen, 1))}
	var err error
	if in.sub, err = s.nc.ChanQueueSubscribe(base+"*", s.o.queueGroup, in.ch); err != nil {
		return nil, micro.Errorf(micro.Unavailable, "nats: subscribe %s*: %w", base, err)
	}
	in.spawn()
	return in, nil
}

// readerIdle is how long a reader beyond the first waits for a message
// before it exits.
const readerIdle = time.Second

// intake reads one namespace's subscription with a pool of reader
// goroutines. nats.go's read loop puts each message on the subscription's
// channel, and the reader that takes it runs its handler itself, so that a
// message costs one goroutine wake-up, as in a plain subscription callback,
// and no goroutine start. One reader is always waiting for a message: the
// one that takes the last waiting place starts another before it runs its
// handler. So a slow handler never holds up the next message, and a
// message that arrives at the concurrency bound is refused at once by the
// waiting reader instead of queueing. There are at most as many readers as
// the bound plus the waiting one (and those refusing a message); those
// beyond the first exit after readerIdle without a message, all of them
// once the channel is closed.
type intake struct {
	s        *Server
	sub      *natsgo.Subscription
	ch       chan *natsgo.Msg // the subscription's; closed by end
	ns, base string
	waiting  atomic.Int32 // readers waiting for a message
	ended    sync.Once
}

// spawn starts a reader, counted as waiting.
func (in *intake) spawn() {
	in.s.readers.Add(1)
	in.waiting.Add(1)
	go in.read()
}

func (in *intake) read() {
	defer in.s.readers.Done()
	var idle *time.Timer
	for {
		var m *natsgo.Msg
		var open bool
		select {
		case m, open = <-in.ch:
		default:
			if idle == nil {
				idle = time.NewTimer(readerIdle)
				defer idle.Stop()
			} else {
				idle.Reset(readerIdle)
			}
			select {
			case m, open = <-in.ch:
			case <-idle.C:
				if in.retire() {
					return
				}
				in.end()
				continue
			}
		}
		if !open {
			return
		}
		if in.waiting.Add(-1) == 0 {
			in.spawn()
		}
		in.s.receive(in.ns, m.Subject[len(in.base):], m)
		in.waiting.Add(1)
	}
}

// retire reports whether an idle reader may exit: not if it is the only
// one waiting.
func (in *intake) retire() bool {
	for {
		n := in.waiting.Load()
		if n <= 1 {
			return false
		}
		if in.waiting.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// end closes the channel if nats.go no longer sends on it (the
// subscription is closed, or the connection is), so that the readers exit
// once they have taken what it holds. Idle readers call it too, for a
// subscription that outlived Unsubscribe (a WithConn connection that its
// owner is draining) and closes later.
func (in *intake) end() {
	if !in.sub.IsValid() {
		in.ended.Do(func() { close(in.ch) })
	}
}

// receive runs the handler of m if the Gate admits it, and otherwise
// refuses m at once.
func (s *Server) receive(ns, service string, m *natsgo.Msg) {
	if e := s.Gate().Enter(); e != nil {
		s.refuse(ns, service, m, e)
		return
	}
	s.handle(ns, service, m)
}

// handle runs the handler of one admitted message and publishes its reply.
func (s *Server) handle(ns, service string, m *natsgo.Msg) {
	defer s.Gate().Leave()
	start := time.Now()
	req := readRequest(ns, service, m) // kept on the stack: Serve does not keep it
	r := s.d.Serve(s.Base(), &req)
	s.disc.record(micro.Route{Namespace: ns, Service: service}, time.Since(start), r.Err)
	if m.Reply != "" {
		s.reply(ns, service, m.Reply, r)
	}
}

// reply publishes r to the requester. A reply the NATS server's
// max_payload refuses is answered with why, rather than left to time out.
func (s *Server) reply(ns, service, to string, r transport.Reply) {
	m := replyMsg(to, r)
	err := s.nc.PublishMsg(&m)
	if errors.Is(err, natsgo.ErrMaxPayload) {
		e := micro.Errorf(micro.ResourceExhausted, "reply of %d bytes with headers exceeds the NATS server's max_payload of %d",
			len(r.Body), s.nc.MaxPayload())
		m = replyMsg(to, transport.Reply{Err: e})
		err = s.nc.PublishMsg(&m)
	}
	if err != nil {
		s.d.Logger.Warn("nats: reply not sent", "namespace", ns, "service", service, "err", err)
	}
}

// refuse answers a request the Gate did not admit: ResourceExhausted at the
// concurrency bound, Unavailable while stopping. A one-way message is
// dropped and counted (see drops).
func (s *Server) refuse(ns, service string, m *natsgo.Msg, e *micro.Error) {
	if m.Reply == "" {
		r := micro.Route{Namespace: ns, Service: service}
		s.disc.dropped(r)
		s.drops.add(r, e, s.d.Logger)
		return
	}
	refusal := replyMsg(m.Reply, transport.Reply{Err: e})
	if err := s.nc.PublishMsg(&refusal); err != nil {
		s.d.Logger.Warn("nats: refusal not sent", "namespace", ns, "service", service, "err", err)
	}
}
