package nats

import (
	"strings"
	"testing"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
)

// FuzzWire decodes arbitrary request and reply headers as the server and
// client do: never a panic; request headers arrive with lower-case keys and
// without the transport's own; a reply's error headers never read as
// success; a deadline parses or is refused with InvalidArgument.
func FuzzWire(f *testing.F) {
	f.Add("X-Trace", "t1", "5", "not found", "1764000000000")
	f.Add("Nats-Service-Error-Code", "0", "0", "", "soon")
	f.Add("micro-deadline", "", "500", "db down", "-1")
	f.Add("", "\x00", "", "", "99999999999999999999")
	f.Fuzz(func(t *testing.T, key, value, code, message, deadline string) {
		h := natsgo.Header{}
		h.Set(key, value)
		h[hdrErrorCode] = []string{code}
		h[hdrError] = []string{message}
		h[hdrDeadline] = []string{deadline}

		for k := range fromWire(h) {
			if k != strings.ToLower(k) || internalHeader(k) {
				t.Fatalf("fromWire kept header %q", k)
			}
		}
		e := errorFrom(h)
		if e == nil || e.Code == micro.OK || e.Code > micro.Unauthenticated {
			t.Fatalf("errorFrom(code %q) = %v, want a failure code", code, e)
		}
		if _, ok, err := deadlineFrom(h); err != nil && (ok || micro.CodeOf(err) != micro.InvalidArgument) {
			t.Fatalf("deadlineFrom(%q) = %v, %v", deadline, ok, err)
		}
	})
}
