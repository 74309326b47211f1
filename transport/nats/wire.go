package nats

import (
	"slices"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// readRequest maps a request message of route (ns, service) to the
// Dispatcher's Request. A Micro-Deadline header in any case is the
// deadline; more than one of them refuses the request.
func readRequest(ns, service string, m *natsgo.Msg) transport.Request {
	header, deadline := readHeader(m.Header)
	r := transport.Request{Namespace: ns, Service: service, Header: header, Body: m.Data, OneWay: m.Reply == ""}
	switch len(deadline) {
	case 0:
	case 1:
		r.Deadline, r.Err = transport.ParseDeadline(natsconn.HeaderDeadline, deadline[0])
	default:
		r.Err = transport.DuplicateHeader(natsconn.HeaderDeadline)
	}
	return r
}

// readHeader returns the user headers of h by the kit's policy, and every
// value of the Micro-Deadline header in any case. NATS header keys keep
// their case, so "Foo" and "foo" are two keys of h: they are read in byte
// order, and each key's values in wire order, so that their joined value
// does not depend on map order. nats.go renders a status line ("NATS/1.0
// 503") under the keys "Status" and "Description", exactly so capitalised;
// those are dropped, while a sender's "status" is a user header.
//
// A message without headers (every Send, every reply without reply
// headers) and one whose only key is a Call's Micro-Deadline are read
// without iterating the map.
func readHeader(h natsgo.Header) (user micro.Header, deadline []string) {
	var r transport.HeaderReader
	switch len(h) {
	case 0:
		return nil, nil
	case 1:
		if v, ok := h[natsconn.HeaderDeadline]; ok { // a micro Call's: no map iterator
			return nil, v
		}
	}
	var buf [16]string // keys of a usual message, sorted without allocating
	keys := buf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		deadline = readKey(&r, k, h[k], deadline)
	}
	return r.Header(), deadline
}

// readKey reads the values of one key of a message's header, in
// readHeader's order, and returns deadline with the key's values added if
// it is Micro-Deadline.
func readKey(r *transport.HeaderReader, k string, values, deadline []string) []string {
	switch {
	case k == "Status" || k == "Description":
	case strings.EqualFold(k, natsconn.HeaderDeadline):
		if deadline == nil {
			return values // read, never written
		}
		return slices.Concat(deadline, values)
	default:
		for _, v := range values {
			r.Add(k, v)
		}
	}
	return deadline
}

// writeHeader adds h's headers to m, creating m.Header if needed.
func writeHeader(m *natsgo.Msg, h micro.Header) {
	if len(h) == 0 {
		return
	}
	if m.Header == nil {
		m.Header = make(natsgo.Header, len(h)+1)
	}
	for k, v := range h {
		m.Header[k] = []string{v}
	}
}

// replyMsg returns the message to publish to the requester for r: its body
// and reply headers, or its error in the services protocol's headers.
// It is returned by value, since nats.go does not keep a message it
// publishes.
func replyMsg(to string, r transport.Reply) natsgo.Msg {
	m := natsgo.Msg{Subject: to, Data: r.Body}
	writeHeader(&m, r.Header)
	if r.Err != nil {
		if m.Header == nil {
			m.Header = make(natsgo.Header, 2)
		}
		natsconn.WriteError(m.Header, r.Err)
	}
	return m
}
