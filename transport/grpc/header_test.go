package grpc

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"
)

// The server reads request metadata under the key gRPC stores it with; if a
// gRPC release changes how it stores metadata, the probe falls back to
// metadata.FromIncomingContext, which works but copies. This test notices.
func TestIncomingKeyProbed(t *testing.T) {
	if incomingKey == nil {
		t.Fatal("the metadata key was not found; the server copies metadata on every call")
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("X-A", "1", "grpc-x", "2", ":authority", "h"))
	if h := toHeader(incoming(ctx)); len(h) != 1 || h["x-a"] != "1" {
		t.Fatalf("headers = %v, want only x-a: 1", h)
	}
}
