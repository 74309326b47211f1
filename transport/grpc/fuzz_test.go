package grpc

import (
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// FuzzHeader turns arbitrary metadata into request headers as the server
// does: never a panic, keys lower-case, none of gRPC's or HTTP/2's own.
func FuzzHeader(f *testing.F) {
	f.Add("X-Trace", "t1", ":authority", "h")
	f.Add("grpc-timeout", "1S", "Content-Type", "application/grpc")
	f.Add("", "", "te", "trailers")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		md := metadata.MD{}
		md.Append(k1, v1)
		md.Append(k2, v2, v1)
		for k := range toHeader(md) {
			if k != strings.ToLower(k) || reserved(k) {
				t.Fatalf("toHeader kept %q from %v", k, md)
			}
		}
	})
}
