package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// FuzzRecord decodes arbitrary record headers as the server (parse) and the
// client (answer) do: never a panic; request headers arrive with lower-case
// keys and without reserved ones; a reply topic named twice is none; service names are interned within
// their bound; a reply with an error header never reads as success.
func FuzzRecord(f *testing.F) {
	f.Add("micro-service", "hello", "X-Trace", "t1", "5", "not found")
	f.Add("MICRO-DEADLINE", "soon", "micro-error-code", "0", "", "")
	f.Add("micro-reply-to", "", "", "\x00", "500", "db down")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, code, message string) {
		r := &kgo.Record{Headers: []kgo.RecordHeader{
			{Key: k1, Value: []byte(v1)}, {Key: k2, Value: []byte(v2)},
			{Key: hdrService, Value: []byte(v1)},
		}}
		n := &names{}
		in := &incoming{}
		parse(r, "ns", n, in)
		for k := range in.req.Header {
			if k != strings.ToLower(k) || transport.Reserved(k) {
				t.Fatalf("parse kept header %q", k)
			}
		}
		if strings.EqualFold(k1, hdrReplyTo) && strings.EqualFold(k2, hdrReplyTo) && in.replyTo != "" {
			t.Fatalf("a reply topic named twice redirects the reply to %q", in.replyTo)
		}
		if len(n.m) > maxNames {
			t.Fatalf("%d names interned, bound %d", len(n.m), maxNames)
		}

		c := &Client{o: clientOptions{common: common{max: 1 << 10}}}
		rep := &kgo.Record{Headers: append(r.Headers,
			kgo.RecordHeader{Key: hdrErrorCode, Value: []byte(code)},
			kgo.RecordHeader{Key: hdrError, Value: []byte(message)})}
		_, err := c.answer(rep, micro.Header{})
		if code := micro.CodeOf(err); code == micro.OK || code > micro.Unauthenticated {
			t.Fatalf("answer(code %q) = %v, want a failure code", code, err)
		}
	})
}
