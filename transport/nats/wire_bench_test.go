package nats

import (
	"testing"

	natsgo "github.com/nats-io/nats.go"
)

// BenchmarkReadRequest measures reading a request off its message: a Send
// (no header), a Call (the Micro-Deadline header only) and a Call with
// three user headers.
func BenchmarkReadRequest(b *testing.B) {
	for _, c := range []struct {
		name string
		h    natsgo.Header
	}{
		{"header=none", nil},
		{"header=deadline", natsgo.Header{"Micro-Deadline": {"1764000000000"}}},
		{"header=deadline+3", natsgo.Header{"Micro-Deadline": {"1764000000000"}, "X-Trace": {"t1"}, "X-User": {"u"}, "Tenant": {"a"}}},
	} {
		m := &natsgo.Msg{Subject: "bench.echo", Reply: "_INBOX.x", Header: c.h, Data: make([]byte, 64)}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := readRequest("bench", "echo", m); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
