package grpc

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/dancinggopher/micro"
)

// incomingKey is the context key under which gRPC stores a request's
// metadata, learned once by watching which key metadata.FromIncomingContext
// asks for. Reading the metadata under it skips the deep copy that
// FromIncomingContext makes on every call, so a request that carries only
// gRPC's own keys costs no allocation. The key is verified at start-up; if a
// gRPC release stores metadata differently, incomingKey is nil and the
// server falls back to FromIncomingContext.
var incomingKey = probeIncomingKey()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}

func probeIncomingKey() (key any) {
	defer func() {
		if recover() != nil {
			key = nil
		}
	}()
	p := &keyProbe{Context: context.Background()}
	metadata.FromIncomingContext(p)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("k", "v"))
	if md, ok := ctx.Value(p.key).(metadata.MD); !ok || len(md["k"]) != 1 || md["k"][0] != "v" {
		return nil
	}
	return p.key
}

// incoming returns the request metadata in ctx, which must not be modified.
func incoming(ctx context.Context) metadata.MD {
	if incomingKey != nil {
		md, _ := ctx.Value(incomingKey).(metadata.MD)
		return md
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return md
}

// reserved reports whether a metadata key belongs to gRPC or HTTP/2 rather
// than to the caller, and so stays out of micro headers.
func reserved(key string) bool {
	switch key {
	case "content-type", "user-agent", "te":
		return true
	}
	return strings.HasPrefix(key, ":") || strings.HasPrefix(key, "grpc-")
}

// toHeader returns the caller's headers in md, or nil if there are none.
// Several values of one key are joined with commas, as HTTP does.
func toHeader(md metadata.MD) micro.Header {
	var h micro.Header
	for k, vs := range md {
		if len(vs) == 0 || reserved(k) {
			continue
		}
		if h == nil {
			h = make(micro.Header, len(md))
		}
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return h
}

// toMD returns h as metadata.
func toMD(h micro.Header) metadata.MD {
	md := make(metadata.MD, len(h))
	for k, v := range h {
		md[k] = []string{v}
	}
	return md
}

// withOutgoing returns ctx with h added to its outgoing metadata, keeping
// any metadata the caller set with the metadata package.
func withOutgoing(ctx context.Context, h micro.Header) context.Context {
	kv := make([]string, 0, 2*len(h))
	for k, v := range h {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
