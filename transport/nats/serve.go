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
// starts the subscription's first reader and its spill watcher.
func (s *Server) subscribeNamespace(ns string) (*intake, error) {
	base := natsconn.Subject(s.o.prefix, ns, "")
	in := &intake{
		s: s, ns: ns, base: base,
		ch:    make(chan *natsgo.Msg, max(s.nc.Opts.SubChanLen, 1)),
		spill: make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	in.timer = time.AfterFunc(time.Hour, in.check)
	in.timer.Stop()
	var err error
	if in.sub, err = s.nc.ChanQueueSubscribe(base+"*", s.o.queueGroup, in.ch); err != nil {
		return nil, micro.Errorf(micro.Unavailable, "nats: subscribe %s*: %w", base, err)
	}
	in.spawn()
	s.readers.Add(1)
	go in.watch()
	return in, nil
}

// readerIdle is how long a reader beyond the first waits for a message
// before it exits.
const readerIdle = time.Second

// spillAfter is how long every reader of a subscription may be running a
// handler, none of them taking a message meanwhile, before another reader
// starts to take the next message.
const spillAfter = 200 * time.Microsecond

// intake reads one namespace's subscription with a pool of reader
// goroutines. nats.go's read loop puts each message on the subscription's
// channel, and the reader that takes it runs its handler itself. A reader
// that is done with a handler takes the next message waiting in the
// channel without parking, so that under load one reader runs message
// after message, as nats.go's delivery goroutine does for a callback, and
// a message costs no goroutine wake-up or start.
//
// So that a slow handler never holds up the next message, a watchdog
// timer runs while no reader is waiting: if every reader is still busy
// spillAfter after the last one took a message, and none took another
// meanwhile, the spill watcher starts another reader, which takes the next
// message (and, at the concurrency bound, refuses it at once). A message
// behind running handlers so waits at most about two spillAfter, and the
// pool grows to as many readers as the handlers' durations need. There
// are at most as many readers as the bound plus one (and those refusing a
// message). A reader whose handler was quick exits as soon as it finds the
// channel empty while another reader waits, so that one reader, not
// several, parks for the next message; one whose handler took spillAfter
// or longer stays for readerIdle. All of them exit once the channel is
// closed.
type intake struct {
	s        *Server
	sub      *natsgo.Subscription
	ch       chan *natsgo.Msg // the subscription's; closed by end
	ns, base string
	waiting  atomic.Int32  // readers waiting for a message
	taken    atomic.Uint64 // messages taken by readers, ever
	seen     atomic.Uint64 // taken when the watchdog last looked
	armed    atomic.Bool   // the watchdog timer runs
	timer    *time.Timer   // the watchdog: runs check
	spill    chan struct{} // check asks watch for another reader
	stop     chan struct{} // closed with ch: watch exits
	ended    sync.Once
	last     atomic.Pointer[endpoint] // see endpoint
}

// spawn starts a reader, counted as waiting. It is called by a reader or
// the watcher, which are counted in the Server's readers, so that the
// count is never zero here while Stop waits for it.
func (in *intake) spawn() {
	in.s.readers.Add(1)
	in.waiting.Add(1)
	go in.read()
}

func (in *intake) read() {
	defer in.s.readers.Done()
	var idle *time.Timer
	slow := false                 // the last handler took spillAfter or longer
	replyHeader := micro.Header{} // the RequestInfo.ReplyHeader of this reader's handlers, emptied after each
	for {
		var m *natsgo.Msg
		var open bool
		select {
		case m, open = <-in.ch:
		default:
			// A reader whose handler was quick leaves waiting to the
			// others: a parked reader costs a wake-up per message.
			if !slow && in.retire() {
				return
			}
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
		in.taken.Add(1)
		if in.waiting.Add(-1) == 0 {
			in.arm()
		}
		slow = in.s.receive(in, m.Subject[len(in.base):], m, replyHeader) >= spillAfter
		in.waiting.Add(1)
	}
}

// arm starts the watchdog, unless it runs.
func (in *intake) arm() {
	if in.armed.CompareAndSwap(false, true) {
		in.seen.Store(in.taken.Load())
		in.timer.Reset(spillAfter)
	}
}

// check is the watchdog: while no reader waits, it looks every spillAfter
// whether a reader took a message since it last looked; if none did, every
// reader has been running its handler for at least spillAfter, and it asks
// the watcher for another reader.
func (in *intake) check() {
	select {
	case <-in.stop: // the channel is closed: no message left to hold up
		return
	default:
	}
	if in.waiting.Load() == 0 {
		if now := in.taken.Load(); now != in.seen.Load() {
			in.seen.Store(now)
			in.timer.Reset(spillAfter)
			return
		}
		select {
		case in.spill <- struct{}{}:
		default:
		}
		return // watch disarms once the new reader waits
	}
	in.armed.Store(false)
	// A reader may have taken the last waiting place since the load above
	// and found the watchdog still armed.
	if in.waiting.Load() == 0 {
		in.arm()
	}
}

// watch starts a reader each time the watchdog asks, until the channel is
// closed.
func (in *intake) watch() {
	defer in.s.readers.Done()
	for {
		select {
		case <-in.spill:
		case <-in.stop:
			return
		}
		// Disarm first: the new reader, or one that is done with its
		// handler, takes the last waiting place later and arms again.
		in.armed.Store(false)
		in.spawn()
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
// once they have taken what it holds, and stops the watchdog and the
// watcher. Idle readers call it too, for a subscription that outlived
// Unsubscribe (a WithConn connection that its owner is draining) and
// closes later.
func (in *intake) end() {
	if !in.sub.IsValid() {
		in.ended.Do(func() {
			close(in.ch)
			close(in.stop)
			in.timer.Stop()
		})
	}
}

// receive runs the handler of m, a message of in's namespace, if the Gate
// admits it, and otherwise refuses m at once, with replyHeader as the
// handler's RequestInfo.ReplyHeader (see transport.Request.ReplyHeader).
// It returns how long the handler took, 0 if refused.
func (s *Server) receive(in *intake, service string, m *natsgo.Msg, replyHeader micro.Header) time.Duration {
	if e := s.Gate().Enter(); e != nil {
		s.refuse(in.ns, service, m, e)
		return 0
	}
	return s.handle(in, service, m, replyHeader)
}

// handle runs the handler of one admitted message, publishes its reply and
// returns how long the handler took.
func (s *Server) handle(in *intake, service string, m *natsgo.Msg, replyHeader micro.Header) time.Duration {
	defer s.Gate().Leave()
	start := monotonic()
	req := readRequest(in.ns, service, m) // kept on the stack: Serve does not keep it
	req.ReplyHeader = replyHeader
	r := s.d.Serve(s.Base(), &req)
	took := monotonic() - start
	s.disc.record(in.endpoint(service), took, r.Err)
	if m.Reply != "" {
		s.reply(in.ns, service, m.Reply, r)
	}
	return took
}

// clockBase is when the package was initialised; see monotonic.
var clockBase = time.Now()

// monotonic returns the time since clockBase, reading only the monotonic
// clock, where time.Now reads the wall clock too.
func monotonic() time.Duration { return time.Since(clockBase) }

// endpoint returns the STATS endpoint of service in in's namespace, nil if
// Start did not see the route. It keeps the last one found, so that a
// namespace called on one service at a time costs no map lookup.
func (in *intake) endpoint(service string) *endpoint {
	if e := in.last.Load(); e != nil && e.info.Name == service {
		return e
	}
	e := in.s.disc.byRoute[micro.Route{Namespace: in.ns, Service: service}]
	if e != nil {
		in.last.Store(e)
	}
	return e
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
