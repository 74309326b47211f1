//go:build http || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"log/slog"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

func init() {
	transports = append(transports, transport{
		name:  "http",
		value: "127.0.0.1:8080",
		usage: `HTTP listen address, such as 127.0.0.1:8080 (then curl --json '{"name":"World"}' localhost:8080/greeter/hello), or "off"`,
		serve: func(addr string, mux *micro.Mux, log *slog.Logger) (micro.Server, func() string, func(), error) {
			srv := microhttp.NewServer(mux, microhttp.WithAddress(addr), microhttp.WithLogger(log))
			return srv, func() string { return srv.Addr().String() }, nil, nil
		},
	})
}
