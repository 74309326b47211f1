package kafka_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/kafka"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			c := kafkatest.Start(t)
			brokers, limit := kafka.WithBrokers(c.Addrs()...), kafka.WithMaxMessageSize(testLimit)
			srv := kafka.NewServer(mux, brokers, limit,
				kafka.WithGroup("conformance"),
				kafka.WithCreateTopics(4),
				kafka.WithRetries(0, 0),
			)
			microtest.Serve(t, context.Background(), srv)
			cl, err := kafka.NewClient(brokers, limit)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			return srv, cl
		},
		MaxMessageSize: testLimit,
		Features: microtest.Features{
			// A request to a stopped server waits in its topic.
			CallAfterStop: micro.DeadlineExceeded,
			// Kafka has no signal for a caller giving up.
			NoCancel: true,
		},
	})
}
