package nats

import (
	"errors"
	"maps"
	"slices"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// subscribeNamespace serves every service of ns from one queue subscription
// on "[prefix.]ns.*"; the Mux answers NotFound for a service it lacks.
func (s *Server) subscribeNamespace(ns string) (*natsgo.Subscription, error) {
	base := subject(s.o.prefix, ns, "")
	sub, err := s.nc.QueueSubscribe(base+"*", s.o.queueGroup, func(m *natsgo.Msg) {
		s.dispatch(ns, m.Subject[len(base):], m)
	})
	if err != nil {
		return nil, micro.Errorf(micro.Unavailable, "nats: subscribe %s*: %w", base, err)
	}
	return sub, nil
}

// dispatch runs on the subscription's goroutine, which nats.go calls
// serially, so it never waits: it hands the message to a handler goroutine
// if the concurrency bound allows, and otherwise refuses it at once.
func (s *Server) dispatch(ns, service string, m *natsgo.Msg) {
	select {
	case s.sem <- struct{}{}:
		go s.serve(ns, service, m)
	default:
		s.refuse(ns, service, m)
	}
}

// serve runs the handler of one message and publishes its reply.
func (s *Server) serve(ns, service string, m *natsgo.Msg) {
	defer func() { <-s.sem }()
	ctx := &handlerCtx{Context: s.base, info: micro.RequestInfo{
		Namespace: ns, Service: service, Transport: "nats", Header: fromWire(m.Header),
	}}
	if m.Reply != "" {
		ctx.info.ReplyHeader = micro.Header{}
	}
	start := time.Now()
	resp, err := s.handle(ctx, m)
	s.disc.record(micro.Route{Namespace: ns, Service: service}, time.Since(start), err)
	if m.Reply == "" {
		if err != nil {
			s.log.Warn("nats: one-way message failed", "namespace", ns, "service", service, "err", err)
		}
		return
	}
	s.reply(m.Reply, &ctx.info, resp, err)
}

// handle calls the Mux with the caller's deadline, if any, on ctx; the Mux
// refuses a request whose deadline has passed.
func (s *Server) handle(ctx *handlerCtx, m *natsgo.Msg) ([]byte, error) {
	if len(m.Data) > s.o.maxSize { // from a client other than micro's
		return nil, micro.Errorf(micro.ResourceExhausted, "nats: request of %d bytes exceeds the limit of %d", len(m.Data), s.o.maxSize)
	}
	deadline, ok, err := deadlineFrom(m.Header)
	if err != nil {
		return nil, err
	}
	if ok {
		ctx.deadline = deadline
		defer ctx.release()
	}
	return s.mux.Serve(ctx, ctx.info.Namespace, ctx.info.Service, m.Data)
}

// reply publishes a handler's result to the requester, with the handler's
// reply headers; an error goes in the services protocol's error headers.
func (s *Server) reply(to string, info *micro.RequestInfo, resp []byte, err error) {
	if err == nil && len(resp) > s.o.maxSize {
		err = micro.Errorf(micro.ResourceExhausted, "nats: reply of %d bytes exceeds the limit of %d", len(resp), s.o.maxSize)
	}
	var perr error
	if err == nil && len(info.ReplyHeader) == 0 {
		perr = s.nc.Publish(to, resp) // the common case needs no header block
	} else {
		m := &natsgo.Msg{Subject: to}
		toWire(m, info.ReplyHeader)
		if err != nil {
			setError(m, transport.ErrorOf(err))
		} else {
			m.Data = resp
		}
		perr = s.nc.PublishMsg(m)
	}
	if errors.Is(perr, natsgo.ErrMaxPayload) || errors.Is(perr, natsgo.ErrBadHeaderMsg) {
		// The reply cannot go as it is; the caller gets why, not a timeout.
		e := micro.Errorf(micro.ResourceExhausted, "nats: reply of %d bytes with headers exceeds the NATS server's max_payload of %d",
			len(resp), s.nc.MaxPayload())
		if errors.Is(perr, natsgo.ErrBadHeaderMsg) {
			e = micro.Errorf(micro.Internal, "nats: reply headers %v are not valid NATS headers", slices.Collect(maps.Keys(info.ReplyHeader)))
		}
		perr = s.sendError(to, e)
	}
	if perr != nil {
		s.log.Warn("nats: reply not sent", "namespace", info.Namespace, "service", info.Service, "err", perr)
	}
}

// refuse answers a request that found every handler slot taken: with
// ResourceExhausted while serving, Unavailable while stopping. A one-way
// message is dropped and logged.
func (s *Server) refuse(ns, service string, m *natsgo.Msg) {
	e := micro.Errorf(micro.ResourceExhausted, "nats: server at its bound of %d concurrent handlers", s.o.concurrency)
	if s.stopping.Load() {
		e = micro.Errorf(micro.Unavailable, "nats: server stopping")
	}
	if m.Reply == "" {
		s.log.Warn("nats: one-way message dropped", "namespace", ns, "service", service, "err", e)
		return
	}
	if err := s.sendError(m.Reply, e); err != nil {
		s.log.Warn("nats: refusal not sent", "namespace", ns, "service", service, "err", err)
	}
}

// sendError publishes a reply that carries only e.
func (s *Server) sendError(to string, e *micro.Error) error {
	m := &natsgo.Msg{Subject: to}
	setError(m, e)
	return s.nc.PublishMsg(m)
}
