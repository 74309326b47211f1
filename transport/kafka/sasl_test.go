package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// TestSASL serves and calls over a cluster that requires SASL/SCRAM, with
// the mechanism passed through WithClientOptions; a server without
// credentials fails at Start.
func TestSASL(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(2, "work"), kafkatest.WithClusterOptions(kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "svc", "secret")))
	auth := kafka.WithClientOptions(kgo.SASL(scram.Auth{User: "svc", Pass: "secret"}.AsSha256Mechanism()))
	brokers := kafka.WithBrokers(c.Addrs()...)

	serve(t, echoMux(), brokers, auth, kafka.WithGroup("g"))
	cl := newClient(t, c, auth)
	if resp, err := cl.Call(t.Context(), "work", "echo", []byte("authenticated")); err != nil || string(resp) != "authenticated" {
		t.Fatalf("Call = %q, %v", resp, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := kafka.NewServer(echoMux(), brokers, kafka.WithGroup("g")).Start(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: ") {
		t.Fatalf("Start without credentials = %v, want a kafka: error", err)
	}
}
