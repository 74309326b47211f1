package grpc

import (
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/dancinggopher/micro/transport"
)

// FuzzHeader reads arbitrary request metadata as the server does: never a
// panic; keys lower-case, none reserved, every header within the alphabet.
func FuzzHeader(f *testing.F) {
	f.Add("X-Trace", "t1", ":authority", "h")
	f.Add("grpc-timeout", "1S", "Content-Type", "application/grpc")
	f.Add("", "", "te", "trailers")
	f.Add("micro-one-way", "1", "x", "y")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		md := metadata.MD{}
		md.Append(k1, v1)
		md.Append(k2, v2, v1)
		var r transport.Request
		readRequest(md, &r)
		for k, v := range r.Header {
			if k != strings.ToLower(k) || transport.Reserved(k) || transport.CheckHeader(k, v) != nil {
				t.Fatalf("readRequest kept %q: %q from %v", k, v, md)
			}
		}
	})
}
