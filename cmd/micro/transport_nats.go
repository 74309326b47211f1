//go:build nats || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/nats"
)

func init() {
	dialers = append(dialers, dialer{name: "nats", addr: "nats://127.0.0.1:4222", dial: func(addr string) (micro.Client, error) {
		return nats.NewClient(nats.WithURL(addr))
	}})
}
