//go:build integration

package kafka_test

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// TestConformanceExternal runs the conformance suite against the Kafka
// cluster at MICRO_KAFKA_BROKERS (comma-separated), each test under a topic
// prefix and a consumer group of its own so that it cannot meet other
// services there. The server creates its topics; the cluster must allow it.
func TestConformanceExternal(t *testing.T) {
	brokers := os.Getenv("MICRO_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("MICRO_KAFKA_BROKERS is not set")
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var n atomic.Int64
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			prefix := "microtest-" + run + "-" + strconv.FormatInt(n.Add(1), 10) + "-"
			seeds, topics, limit := kafka.WithBrokers(strings.Split(brokers, ",")...),
				kafka.WithTopicPrefix(prefix), kafka.WithMaxMessageSize(testLimit)
			srv := kafka.NewServer(mux, seeds, topics, limit,
				kafka.WithGroup(prefix+"group"), kafka.WithCreateTopics(4), kafka.WithRetries(0, 0))
			microtest.Serve(t, nil, srv)
			cl, err := kafka.NewClient(seeds, topics, limit)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			return srv, cl
		},
		MaxMessageSize: testLimit,
		Features:       microtest.Features{CallAfterStop: micro.DeadlineExceeded, NoCancel: true},
	})
}
