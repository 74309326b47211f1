package jetstream

import (
	"maps"
	"slices"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// Header names of the wire beside natsconn's (Micro-Deadline and the NATS
// services protocol's error headers, as the NATS transport's, so that a
// reply reads the same over core NATS and JetStream).
const (
	hdrReplyTo  = "Micro-Reply-To" // the core NATS subject a request's reply goes to
	hdrMsgID    = "Nats-Msg-Id"    // JetStream's duplicate detection
	hdrSubject  = "Micro-Subject"  // dead letters: the subject the message was published to
	hdrStream   = "Micro-Stream"   // dead letters: the stream it came from
	hdrSequence = "Micro-Sequence" // dead letters: its sequence in that stream
)

// incoming is a message as the server reads it.
type incoming struct {
	req     transport.Request
	replyTo string // "" for a one-way message
}

// parse reads a message of namespace ns for service: the user headers by
// the kit's policy, the deadline and the reply subject. A deadline or reply
// subject given twice, or malformed, sets req.Err; the request is then
// answered without a handler, and a reply subject given twice is not
// replied to.
func parse(ns, service string, h natsgo.Header, data []byte) incoming {
	in := incoming{req: transport.Request{Namespace: ns, Service: service, Body: data}}
	var r transport.HeaderReader
	var deadlines, replies []string
	// NATS header keys are case-sensitive and a map: "Foo" and "foo" are
	// two keys, joined in sorted order so that the result does not depend
	// on map iteration.
	var one [1]string
	for _, k := range sortedKeys(&one, h) {
		switch vs := h[k]; {
		case strings.EqualFold(k, natsconn.HeaderDeadline):
			deadlines = append(deadlines, vs...)
		case strings.EqualFold(k, hdrReplyTo):
			replies = append(replies, vs...)
		case k == "Status" || k == "Description": // nats.go's rendering of a status line
		default:
			for _, v := range vs {
				r.Add(k, v)
			}
		}
	}
	in.req.Header = r.Header()
	switch len(replies) {
	case 0:
	case 1:
		if !validSubject(replies[0]) {
			in.req.Err = micro.Errorf(micro.InvalidArgument, "malformed %s header %q (want a NATS subject)", hdrReplyTo, replies[0])
			break
		}
		in.replyTo = replies[0]
	default:
		in.req.Err = transport.DuplicateHeader(hdrReplyTo)
	}
	switch len(deadlines) {
	case 0:
	case 1:
		d, err := transport.ParseDeadline(natsconn.HeaderDeadline, deadlines[0])
		if err != nil && in.req.Err == nil {
			in.req.Err = err
		}
		in.req.Deadline = d
	default:
		if in.req.Err == nil {
			in.req.Err = transport.DuplicateHeader(natsconn.HeaderDeadline)
		}
	}
	return in
}

// sortedKeys returns the keys of h in order, in one if h has one key, so
// that the common message of no header or one costs no allocation.
func sortedKeys(one *[1]string, h natsgo.Header) []string {
	switch len(h) {
	case 0:
		return nil
	case 1:
		for k := range h {
			one[0] = k
		}
		return one[:]
	}
	return slices.Sorted(maps.Keys(h))
}

// validSubject reports whether s can be published to: dot-separated
// non-empty tokens without wildcards or whitespace.
func validSubject(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

// streamName returns the name of the stream Start creates for subjects:
// without a trailing wildcard, dots turned into '_'.
func streamName(subjects string) string {
	return strings.ReplaceAll(strings.TrimSuffix(subjects, ".*"), ".", "_")
}

// replyMsg returns the core NATS reply to a request: the body and the
// handler's reply headers, or the error headers.
func replyMsg(to string, rep transport.Reply) *natsgo.Msg {
	m := &natsgo.Msg{Subject: to, Data: rep.Body}
	if len(rep.Header) == 0 && rep.Err == nil {
		return m
	}
	m.Header = make(natsgo.Header, len(rep.Header)+2)
	for k, v := range rep.Header {
		m.Header[k] = []string{v}
	}
	if rep.Err != nil {
		m.Data = nil
		natsconn.WriteError(m.Header, rep.Err)
	}
	return m
}

// userHeaders returns the user headers of a reply.
func userHeaders(h natsgo.Header) micro.Header {
	var r transport.HeaderReader
	var one [1]string
	for _, k := range sortedKeys(&one, h) {
		if k == "Status" || k == "Description" {
			continue
		}
		for _, v := range h[k] {
			r.Add(k, v)
		}
	}
	return r.Header()
}
