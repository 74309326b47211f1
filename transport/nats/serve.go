package nats

import (
	"errors"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// subscribeNamespace serves every service of ns from one queue subscription
// on "[prefix.]ns.*"; the Mux answers NotFound for a service it lacks.
func (s *Server) subscribeNamespace(ns string) (*natsgo.Subscription, error) {
	base := natsconn.Subject(s.o.prefix, ns, "")
	sub, err := s.nc.QueueSubscribe(base+"*", s.o.queueGroup, func(m *natsgo.Msg) {
		s.receive(ns, m.Subject[len(base):], m)
	})
	if err != nil {
		return nil, micro.Errorf(micro.Unavailable, "nats: subscribe %s*: %w", base, err)
	}
	return sub, nil
}

// receive runs on the subscription's goroutine, which nats.go calls
// serially, so it never waits: it hands the message to a handler goroutine
// if the Gate admits it, and otherwise refuses it at once.
func (s *Server) receive(ns, service string, m *natsgo.Msg) {
	if e := s.Gate().Enter(); e != nil {
		s.refuse(ns, service, m, e)
		return
	}
	go s.handle(ns, service, m)
}

// handle runs the handler of one admitted message and publishes its reply.
func (s *Server) handle(ns, service string, m *natsgo.Msg) {
	defer s.Gate().Leave()
	start := time.Now()
	r := s.d.Serve(s.Base(), readRequest(ns, service, m))
	s.disc.record(micro.Route{Namespace: ns, Service: service}, time.Since(start), r.Err)
	if m.Reply != "" {
		s.reply(ns, service, m.Reply, r)
	}
}

// reply publishes r to the requester. A reply the NATS server's
// max_payload refuses is answered with why, rather than left to time out.
func (s *Server) reply(ns, service, to string, r transport.Reply) {
	err := s.nc.PublishMsg(replyMsg(to, r))
	if errors.Is(err, natsgo.ErrMaxPayload) {
		e := micro.Errorf(micro.ResourceExhausted, "reply of %d bytes with headers exceeds the NATS server's max_payload of %d",
			len(r.Body), s.nc.MaxPayload())
		err = s.nc.PublishMsg(replyMsg(to, transport.Reply{Err: e}))
	}
	if err != nil {
		s.d.Logger.Warn("nats: reply not sent", "namespace", ns, "service", service, "err", err)
	}
}

// refuse answers a request the Gate did not admit: ResourceExhausted at the
// concurrency bound, Unavailable while stopping. A one-way message is
// dropped and logged.
func (s *Server) refuse(ns, service string, m *natsgo.Msg, e *micro.Error) {
	if m.Reply == "" {
		s.d.Logger.Warn("nats: one-way message dropped", "namespace", ns, "service", service, "code", e.Code.String(), "err", e.Message)
		return
	}
	if err := s.nc.PublishMsg(replyMsg(m.Reply, transport.Reply{Err: e})); err != nil {
		s.d.Logger.Warn("nats: refusal not sent", "namespace", ns, "service", service, "err", err)
	}
}
