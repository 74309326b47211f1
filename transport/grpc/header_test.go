package grpc

import (
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

func TestReadRequest(t *testing.T) {
	for _, c := range []struct {
		name   string
		md     metadata.MD
		oneWay bool
		code   micro.Code // of r.Err; OK for none
		header micro.Header
	}{
		{"grpc's own keys", metadata.Pairs(":authority", "h", "user-agent", "grpc-go", "grpc-accept-encoding", "gzip", "content-type", "application/grpc"), false, micro.OK, nil},
		{"repeated key", metadata.Pairs("x-b", "2", "x-b", "3", "x-a", "1"), false, micro.OK, micro.Header{"x-a": "1", "x-b": "2,3"}},
		{"content-type", metadata.Pairs("content-type", "application/grpc", "micro-content-type", "application/json"), false, micro.OK, micro.Header{"content-type": "application/json"}},
		{"one-way", metadata.Pairs("micro-one-way", "1", "x-a", "1"), true, micro.OK, micro.Header{"x-a": "1"}},
		{"one-way twice", metadata.Pairs("micro-one-way", "1", "micro-one-way", "1"), false, micro.InvalidArgument, nil},
		{"one-way malformed", metadata.Pairs("micro-one-way", "yes"), false, micro.InvalidArgument, nil},
	} {
		var r transport.Request
		readRequest(c.md, &r)
		if r.OneWay != c.oneWay || micro.CodeOf(r.Err) != c.code || len(r.Header) != len(c.header) {
			t.Errorf("%s: one-way %v, err %v, header %v; want %v, %v, %v", c.name, r.OneWay, r.Err, r.Header, c.oneWay, c.code, c.header)
			continue
		}
		for k, v := range c.header {
			if r.Header[k] != v {
				t.Errorf("%s: header %q = %q, want %q", c.name, k, r.Header[k], v)
			}
		}
	}
}
