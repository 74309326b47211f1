//go:build grpc || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/grpc"
)

func init() {
	dialers = append(dialers, dialer{name: "grpc", addr: "127.0.0.1:50051", dial: func(addr string) (micro.Client, error) {
		return grpc.NewClient(addr)
	}})
}
