package kafka

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The transport's record headers: the wire contract.
const (
	hdrService     = "micro-service"        // the service of the namespace's topic
	hdrDeadline    = "micro-deadline"       // the caller's deadline, Unix ms
	hdrReplyTo     = "micro-reply-to"       // the topic of the reply
	hdrCorrelation = "micro-correlation-id" // matches a reply to its request
	hdrErrorCode   = "micro-error-code"     // the code number of a failed call
	hdrError       = "micro-error"          // the message of a failed call
)

type keyCtx struct{}

// WithKey returns a copy of ctx whose Sends and Calls produce their record
// with key, so that records of the same key go to the same partition and
// are handled in order. Without it a record has no key and records are
// spread over the partitions in turn.
func WithKey(ctx context.Context, key []byte) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// request builds the record of a request to (namespace, service) with the
// headers h, leaving room for extra more.
func (c *Client) request(ctx context.Context, namespace, service string, h micro.Header, body []byte, extra int) *kgo.Record {
	r := &kgo.Record{Topic: c.o.prefix + namespace, Value: body}
	r.Key, _ = ctx.Value(keyCtx{}).([]byte)
	r.Headers = make([]kgo.RecordHeader, 0, 1+extra+len(h))
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: hdrService, Value: []byte(service)})
	for k, v := range h {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return r
}

// incoming is a request record as the server read it.
type incoming struct {
	req     transport.Request
	replyTo string // "" for none, or if the record names it twice
	// ids are the record's correlation ids: one, unless a foreign
	// producer set several, which the reply then carries alike.
	ids [][]byte
}

// names interns service names, so that a record's micro-service header
// costs no allocation once its name has been seen, and no map lookup when
// it is the name of the record before. It holds at most maxNames names,
// whatever records claim.
type names struct {
	m    map[string]string
	last string // the name interned last
}

const maxNames = 64

func (n *names) intern(b []byte) string {
	if string(b) == n.last { // no allocation for the comparison
		return n.last
	}
	s, ok := n.m[string(b)] // nor for the lookup
	if !ok {
		s = string(b)
		if n.m == nil {
			n.m = map[string]string{}
		}
		if len(n.m) < maxNames {
			n.m[s] = s
		}
	}
	n.last = s
	return s
}

// Bits of the transport's own request headers, to find one given twice.
const (
	seenService = 1 << iota
	seenDeadline
	seenReplyTo
	seenCorrelation
)

// parse reads the request record r of namespace ns into in, which must be
// zero, interning the service name in n. It fills in in place: an incoming
// is large, and a copy of it costs more than the reading. The transport's
// own headers are read here; the others go through a
// transport.HeaderReader. A record that names a service, a deadline, a
// reply topic or a correlation id twice is refused with
// transport.DuplicateHeader, and a reply topic named twice is no reply
// topic: a second value never redirects a reply.
func parse(r *kgo.Record, ns string, n *names, in *incoming) {
	in.req.Namespace, in.req.Body = ns, r.Value
	var (
		hr             transport.HeaderReader
		seen           int
		dup, deadline  string
		deadlineHeader bool
	)
	once := func(bit int, key string) bool {
		if seen&bit != 0 {
			if dup == "" {
				dup = key
			}
			return false
		}
		seen |= bit
		return true
	}
	for _, h := range r.Headers {
		key := h.Key
		switch key {
		case hdrService, hdrDeadline, hdrReplyTo, hdrCorrelation: // as micro writes them: no case to fold
		default:
			key = strings.ToLower(key) // no allocation when already lower-case
		}
		switch key {
		case hdrService:
			if once(seenService, key) {
				in.req.Service = n.intern(h.Value)
			}
		case hdrDeadline:
			if once(seenDeadline, key) {
				deadline, deadlineHeader = string(h.Value), true
			}
		case hdrReplyTo:
			if once(seenReplyTo, key) {
				in.replyTo = string(h.Value)
			} else {
				in.replyTo = ""
			}
		case hdrCorrelation:
			once(seenCorrelation, key)
			in.ids = append(in.ids, h.Value)
		default:
			hr.Add(h.Key, string(h.Value))
		}
	}
	in.req.Header = hr.Header()
	switch {
	case dup != "":
		in.req.Err = transport.DuplicateHeader(dup)
	case in.req.Service == "":
		in.req.Err = micro.Errorf(micro.InvalidArgument, "kafka: record without a %s header", hdrService)
	case deadlineHeader:
		in.req.Deadline, in.req.Err = transport.ParseDeadline(hdrDeadline, deadline)
	}
	in.req.OneWay = in.replyTo == ""
}

// errorHeaders returns the headers that carry err on the wire: its code
// number and its message, raw bytes (Kafka headers carry any byte).
func errorHeaders(err *micro.Error) []kgo.RecordHeader {
	code, msg := transport.WireError(err)
	return []kgo.RecordHeader{{Key: hdrErrorCode, Value: []byte(code)}, {Key: hdrError, Value: []byte(msg)}}
}
