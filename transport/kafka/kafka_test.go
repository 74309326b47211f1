package kafka_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/kafka"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

// cluster starts an in-process Kafka cluster of one broker that lives as
// long as the test, longer than the clients created after it.
func cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			c := cluster(t)
			brokers, limit := kafka.WithBrokers(c.ListenAddrs()...), kafka.WithMaxMessageSize(testLimit)
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
