package nats

import (
	"strings"
	"testing"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// FuzzWire decodes arbitrary request and reply headers as the server and
// client do: never a panic; request headers arrive with lower-case keys and
// without reserved ones; a reply's error headers never read as success and
// carry any message unchanged; a deadline parses or is refused with
// InvalidArgument.
func FuzzWire(f *testing.F) {
	f.Add("X-Trace", "t1", "5", "not found", "1764000000000")
	f.Add("Nats-Service-Error-Code", "0", "0", "", "soon")
	f.Add("micro-deadline", "", "500", "db down", "-1")
	f.Add("", "\x00", "", "", "99999999999999999999")
	f.Add("status", "ok", "3", " line one\nline two %41 ", "1")
	f.Fuzz(func(t *testing.T, key, value, code, message, deadline string) {
		h := natsgo.Header{}
		h.Set(key, value)
		h[natsconn.HeaderErrorCode] = []string{code}
		h[natsconn.HeaderError] = []string{transport.EscapeValue(message)}
		h[natsconn.HeaderDeadline] = []string{deadline}

		r := readRequest("ns", "svc", &natsgo.Msg{Header: h})
		for k := range r.Header {
			if k != strings.ToLower(k) || transport.Reserved(k) {
				t.Fatalf("readRequest kept header %q", k)
			}
		}
		if r.Err != nil && micro.CodeOf(r.Err) != micro.InvalidArgument {
			t.Fatalf("readRequest(deadline %q, %q) = %v", deadline, key, r.Err)
		}
		e := natsconn.ReadError(h)
		if e == nil || e.Code == micro.OK || e.Code > micro.Unauthenticated {
			t.Fatalf("ReadError(code %q) = %v, want a failure code", code, e)
		}
		if want := transport.ParseError(code, message); e.Message != want.Message {
			t.Fatalf("readError message = %q, want %q", e.Message, want.Message)
		}
	})
}
