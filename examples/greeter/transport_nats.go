//go:build nats || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/nats"
)

func init() {
	transports = append(transports, transport{
		name:  "nats",
		value: "embedded",
		usage: `NATS server URL; "embedded" starts one in process on 127.0.0.1:4222 ("embedded:HOST:PORT" elsewhere); or "off"`,
		serve: serveNATS,
	})
}

func serveNATS(value string, mux *micro.Mux, log *slog.Logger) (micro.Server, func() string, func(), error) {
	url, release := value, func() {}
	if addr, ok := embedded(value, "127.0.0.1:4222"); ok {
		ns, err := startNATS(addr)
		if err != nil {
			return nil, nil, nil, err
		}
		url, release = ns.ClientURL(), ns.Shutdown
		log.Info("started embedded NATS server", "url", url)
	}
	srv := nats.NewServer(mux, nats.WithURL(url), nats.WithLogger(log))
	return srv, func() string { return url }, release, nil
}

// startNATS starts a nats-server listening on addr.
func startNATS(addr string) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	// nats-server logs a port in use and keeps retrying; listen first to
	// fail fast with the real error.
	if port != server.RANDOM_PORT {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS server: %w", err)
		}
		l.Close()
	}
	ns, err := server.NewServer(&server.Options{Host: host, Port: port, NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start on %s", addr)
	}
	return ns, nil
}
