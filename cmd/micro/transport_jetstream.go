//go:build jetstream || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

func init() {
	// After the others in the default of -transport: a Call over
	// JetStream is stored before it is answered.
	preferred = append(preferred, "jetstream")
	dialers = append(dialers, dialer{name: "jetstream", addr: "nats://127.0.0.1:4223", dial: func(addr string) (micro.Client, error) {
		return jetstream.NewClient(jetstream.WithURL(addr))
	}})
}
