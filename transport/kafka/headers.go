package kafka

import (
	"context"
	"strconv"
	"strings"
	"time"

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

// transportHeader reports whether the lower-case key is one of the
// transport's own headers, which handlers do not see as request headers.
func transportHeader(key string) bool {
	switch key {
	case hdrService, hdrDeadline, hdrReplyTo, hdrCorrelation, hdrErrorCode, hdrError:
		return true
	}
	return false
}

type keyCtx struct{}

// WithKey returns a copy of ctx whose Sends and Calls produce their record
// with key, so that records of the same key go to the same partition and
// are handled in order. Without it a record has no key and records are
// spread over the partitions in turn.
func WithKey(ctx context.Context, key []byte) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// request builds the record of a request to (namespace, service).
func (c *Client) request(ctx context.Context, namespace, service string, body []byte, extra int) *kgo.Record {
	h, _ := transport.OutgoingHeader(ctx)
	r := &kgo.Record{Topic: c.o.prefix + namespace, Value: body}
	r.Key, _ = ctx.Value(keyCtx{}).([]byte)
	r.Headers = make([]kgo.RecordHeader, 0, 1+extra+len(h))
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: hdrService, Value: []byte(service)})
	for k, v := range h {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return r
}

// incoming is what the server reads from a request record's headers.
type incoming struct {
	service     string
	replyTo     string
	correlation []byte
	deadline    time.Time // zero if none
	badDeadline bool      // the deadline header is not a number
	header      micro.Header
}

// names interns service names, so that a record's micro-service header
// costs no allocation once its name has been seen. It holds at most
// maxNames names, whatever records claim.
type names map[string]string

const maxNames = 64

func (n names) intern(b []byte) string {
	if s, ok := n[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	if len(n) < maxNames {
		n[s] = s
	}
	return s
}

// parse reads r's headers, interning the service name in n.
func parse(r *kgo.Record, n names) incoming {
	var in incoming
	for _, h := range r.Headers {
		key := strings.ToLower(h.Key) // no allocation when already lower-case
		switch key {
		case hdrService:
			in.service = n.intern(h.Value)
		case hdrReplyTo:
			in.replyTo = string(h.Value)
		case hdrCorrelation:
			in.correlation = h.Value
		case hdrDeadline:
			if ms, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				in.deadline = time.UnixMilli(ms)
			} else {
				in.badDeadline = true
			}
		case hdrErrorCode, hdrError:
		default:
			if in.header == nil {
				in.header = make(micro.Header, len(r.Headers))
			}
			in.header[key] = string(h.Value)
		}
	}
	return in
}

// errorHeaders returns the headers that carry err on the wire.
func errorHeaders(err *micro.Error) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: hdrErrorCode, Value: strconv.AppendUint(nil, uint64(err.Code), 10)},
		{Key: hdrError, Value: []byte(err.Message)},
	}
}
