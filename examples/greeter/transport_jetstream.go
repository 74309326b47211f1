//go:build jetstream || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

func init() {
	transports = append(transports, transport{
		name:  "jetstream",
		value: "off",
		usage: `NATS server URL with JetStream; "embedded" starts one in process on 127.0.0.1:4223 with its store in a temporary directory ("embedded:HOST:PORT" elsewhere); or "off"`,
		serve: serveJetStream,
	})
}

// serveJetStream serves the greeter from JetStream streams, creating them
// if they are missing: "greeter" for the subjects "greeter.*".
func serveJetStream(value string, mux *micro.Mux, log *slog.Logger) (micro.Server, func() string, func(), error) {
	url, release := value, func() {}
	if addr, ok := embedded(value, "127.0.0.1:4223"); ok {
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, nil, nil, err
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded JetStream port %q: %w", portStr, err)
		}
		// natstest runs nats-server in process, for development: JetStream
		// on a store in a temporary directory, removed at exit.
		ns, err := natstest.New(natstest.WithJetStream(), natstest.WithPort(port), natstest.WithMaxPayload(8<<20),
			natstest.WithServerOptions(&server.Options{Host: host}))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded JetStream server: %w", err)
		}
		url, release = ns.URL(), ns.Close
		log.Info("started embedded NATS server with JetStream", "url", url, "store", ns.StoreDir())
	}
	srv := jetstream.NewServer(mux, jetstream.WithURL(url), jetstream.WithLogger(log), jetstream.WithCreateStream())
	return srv, func() string { return url }, release, nil
}
