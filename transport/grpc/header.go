package grpc

import (
	"context"

	"google.golang.org/grpc/metadata"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// oneWayKey is the request metadata that marks a call of micro.v1.Micro/Call
// as a one-way message (Client.Send): the server gives its handler no
// deadline and logs its failure. The key is reserved, so no caller sets it
// with micro.WithHeader; a call without it is an ordinary Call, which keeps
// the wire contract of Call unchanged for every other client.
const oneWayKey = "micro-one-way"

// contentTypeKey is the metadata key that carries the header content-type
// (the body's encoding, see micro.Codec): gRPC's own content-type is its
// framing, "application/grpc", which grpc-go does not let a caller or a
// handler set.
const contentTypeKey = "micro-content-type"

// readRequest reads the user headers and the one-way mark of a call's
// metadata into r.
func readRequest(md metadata.MD, r *transport.Request) {
	if vs, ok := md[oneWayKey]; ok {
		switch {
		case len(vs) != 1:
			r.Err = transport.DuplicateHeader(oneWayKey)
		case vs[0] != "1":
			r.Err = micro.Errorf(micro.InvalidArgument, "malformed %s header %q (want 1)", oneWayKey, vs[0])
		default:
			r.OneWay = true
		}
	}
	r.Header = readHeader(md) // without oneWayKey, which is reserved
}

// readHeader returns the user headers of md, or nil if there are none, by
// the kit's header policy: gRPC's and micro's own keys stay out, and the
// values of a key sent several times are joined with ",".
func readHeader(md metadata.MD) micro.Header {
	var h transport.HeaderReader
	for k, vs := range md {
		switch k {
		case "content-type": // gRPC's
			continue
		case contentTypeKey:
			k = "content-type"
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h.Header()
}

// mdKey returns the metadata key of the header key k.
func mdKey(k string) string {
	if k == "content-type" {
		return contentTypeKey
	}
	return k
}

// toMD returns h as metadata.
func toMD(h micro.Header) metadata.MD {
	md := make(metadata.MD, len(h))
	for k, v := range h {
		md[mdKey(k)] = []string{v}
	}
	return md
}

// withOutgoing returns ctx with the checked request headers h, and the
// one-way mark if oneWay, added to its outgoing metadata, keeping any
// metadata the caller set with the metadata package.
func withOutgoing(ctx context.Context, h micro.Header, oneWay bool) context.Context {
	if len(h) == 0 && !oneWay {
		return ctx
	}
	kv := make([]string, 0, 2*len(h)+2)
	for k, v := range h {
		kv = append(kv, mdKey(k), v)
	}
	if oneWay {
		kv = append(kv, oneWayKey, "1")
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
