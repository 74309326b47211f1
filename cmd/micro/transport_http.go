//go:build http || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

func init() {
	// After the others: HTTP is the default only of a binary built with it alone.
	preferred = append(preferred, "http")
	dialers = append(dialers, dialer{name: "http", addr: "127.0.0.1:8080", dial: func(addr string) (micro.Client, error) {
		return microhttp.NewClient(addr)
	}})
}
