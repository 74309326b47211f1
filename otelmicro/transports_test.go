package otelmicro_test

// The transports the tests run on: loopback gRPC, an embedded nats-server
// (natstest), an in-process kfake cluster (kafkatest). Kept in this one file
// so that a change of the transports' constructors or options is adapted
// here only.

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/grpc"
	"github.com/dancinggopher/micro/transport/inproc"
	"github.com/dancinggopher/micro/transport/kafka"
	"github.com/dancinggopher/micro/transport/nats"
)

// serveInproc serves mux in process and returns a client of it.
func serveInproc(t testing.TB, mux *micro.Mux) micro.Client {
	t.Helper()
	srv := inproc.NewServer(mux)
	microtest.Serve(t, context.Background(), srv)
	return inproc.NewClient(srv)
}

// serveGRPC serves mux on a loopback port and returns a client of it.
func serveGRPC(t testing.TB, mux *micro.Mux) micro.Client {
	t.Helper()
	srv := grpc.NewServer(mux, grpc.WithAddress("127.0.0.1:0"))
	microtest.Serve(t, context.Background(), srv)
	c, err := grpc.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveNATS starts a nats-server on a loopback port, serves mux on it and
// returns a client of it.
func serveNATS(t testing.TB, mux *micro.Mux) micro.Client {
	t.Helper()
	ns := natstest.Start(t)
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()))
	microtest.Serve(t, context.Background(), srv)
	c, err := nats.NewClient(nats.WithURL(ns.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveKafka starts a one-broker kfake cluster, serves mux on it in the
// consumer group "otel", without retries, and returns a client of it.
func serveKafka(t testing.TB, mux *micro.Mux) micro.Client {
	return serveKafkaOn(t, kafkaCluster(t), mux, 0, "")
}

// kafkaCluster starts a one-broker cluster and returns its address.
func kafkaCluster(t testing.TB) []string { return kafkatest.Start(t).Addrs() }

// serveKafkaOn serves mux on brokers, in a consumer group named for its
// first namespace, with retries, and a dead-letter topic if deadLetter is
// not "", and returns a client of it.
func serveKafkaOn(t testing.TB, brokers []string, mux *micro.Mux, retries int, deadLetter string) micro.Client {
	t.Helper()
	opts := []kafka.ServerOption{kafka.WithBrokers(brokers...), kafka.WithGroup("otel-" + mux.Namespaces()[0]),
		kafka.WithCreateTopics(1), kafka.WithRetries(retries, time.Millisecond)}
	if deadLetter != "" {
		opts = append(opts, kafka.WithDeadLetterTopic(deadLetter))
	}
	srv := kafka.NewServer(mux, opts...)
	microtest.Serve(t, context.Background(), srv)
	c, err := kafka.NewClient(kafka.WithBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
