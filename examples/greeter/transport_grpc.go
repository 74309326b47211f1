//go:build grpc || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"log/slog"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/grpc"
)

func init() {
	transports = append(transports, transport{
		name:  "grpc",
		value: "127.0.0.1:50051",
		usage: `gRPC listen address, or "off"`,
		serve: func(addr string, mux *micro.Mux, log *slog.Logger) (micro.Server, func() string, func(), error) {
			srv := grpc.NewServer(mux, grpc.WithAddress(addr), grpc.WithLogger(log))
			return srv, func() string { return srv.Addr().String() }, nil, nil
		},
	})
}
