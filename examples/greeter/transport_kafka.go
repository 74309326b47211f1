//go:build kafka || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/kafka"
)

func init() {
	transports = append(transports, transport{
		name:  "kafka",
		value: "off",
		usage: `comma-separated Kafka brokers; "embedded" starts an in-process Kafka-compatible broker on 127.0.0.1:9092 ("embedded:HOST:PORT" elsewhere); or "off"`,
		serve: serveKafka,
	})
}

func serveKafka(value string, mux *micro.Mux, log *slog.Logger) (micro.Server, func() string, func(), error) {
	brokers, release := strings.Split(value, ","), func() {}
	if addr, ok := embedded(value, "127.0.0.1:9092"); ok {
		// kfake is franz-go's in-process cluster: for development, not
		// production. It listens where asked and creates the topics of the
		// greeter's namespaces and any a client asks for.
		cluster, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
			kfake.AllowAutoTopicCreation(),
			kfake.DefaultNumPartitions(4),
			kfake.SeedTopics(4, mux.Namespaces()...),
			// Room for micro's default 4 MiB message and its headers.
			kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(8 << 20)}),
		)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded Kafka broker: %w", err)
		}
		brokers, release = cluster.ListenAddrs(), cluster.Close
		log.Info("started embedded Kafka broker", "address", brokers[0])
	}
	srv := kafka.NewServer(mux, kafka.WithBrokers(brokers...), kafka.WithLogger(log))
	return srv, func() string { return strings.Join(brokers, ",") }, release, nil
}
