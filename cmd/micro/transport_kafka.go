//go:build kafka || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"strings"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/kafka"
)

func init() {
	dialers = append(dialers, dialer{name: "kafka", addr: "127.0.0.1:9092", dial: func(addr string) (micro.Client, error) {
		return kafka.NewClient(kafka.WithBrokers(strings.Split(addr, ",")...))
	}})
}
