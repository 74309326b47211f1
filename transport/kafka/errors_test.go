package kafka_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

func wantCode(t *testing.T, err error, code micro.Code) {
	t.Helper()
	wantKitCode(t, err, code)
	if !strings.Contains(err.Error(), "kafka: ") {
		t.Errorf("error %q does not say it comes from kafka", err)
	}
}

// wantKitCode checks an error the transport kit gives, with the same
// message on every transport.
func wantKitCode(t *testing.T, err error, code micro.Code) {
	t.Helper()
	if micro.CodeOf(err) != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
}

func echoMux() *micro.Mux {
	m := micro.NewMux()
	m.HandleFunc("work", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	return m
}

// TestOversizedRecord sends records over the limit: the client's own limit,
// and the broker's message.max.bytes (Kafka's default of about 1 MiB, below
// the transport's default limit of 4 MiB). Both fail with
// ResourceExhausted at once.
func TestOversizedRecord(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work")) // message.max.bytes: Kafka's default
	cl := newClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	over := make([]byte, micro.DefaultMaxMessageSize+1)
	wantKitCode(t, cl.Send(ctx, "work", "echo", over), micro.ResourceExhausted)

	brokerOver := make([]byte, 2<<20) // random: compression must not hide the size
	_, _ = rand.Read(brokerOver)
	wantCode(t, cl.Send(ctx, "work", "echo", brokerOver), micro.ResourceExhausted)
	_, err := cl.Call(ctx, "work", "echo", brokerOver)
	wantCode(t, err, micro.ResourceExhausted)
	if err := cl.Send(ctx, "work", "echo", []byte("small")); err != nil {
		t.Fatalf("Send after an oversized record: %v", err)
	}
}

// TestUnknownTopic sends to a namespace that has no topic.
func TestUnknownTopic(t *testing.T) {
	c := kafkatest.Start(t)
	cl := newClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := cl.Send(ctx, "nowhere", "echo", []byte("x"))
	wantCode(t, err, micro.NotFound)
	if !strings.Contains(err.Error(), `"nowhere"`) {
		t.Errorf("error %q does not name the topic", err)
	}
}

// TestStartErrors checks the setup errors Start returns.
func TestStartErrors(t *testing.T) {
	c := kafkatest.Start(t)
	brokers := kafka.WithBrokers(c.Addrs()...)
	for _, tc := range []struct {
		name string
		mux  *micro.Mux
		opts []kafka.ServerOption
		want string
	}{
		{"no group", echoMux(), []kafka.ServerOption{brokers}, "no consumer group"},
		{"no routes", micro.NewMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g")}, "no routes"},
		{"missing topic", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g")}, `missing topics ["work"]`},
		{"missing dead-letter topic", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"), kafka.WithDeadLetterTopic("dead")}, `"dead"`},
		{"unreachable", echoMux(), []kafka.ServerOption{kafka.WithBrokers("127.0.0.1:1"), kafka.WithGroup("g")}, "no broker answered"},
		// kgo options that would undo the delivery guarantee.
		{"regex", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"),
			kafka.WithClientOptions(kgo.ConsumeRegex())}, "kgo.ConsumeRegex"},
		{"no acks", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"),
			kafka.WithClientOptions(kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())}, "kgo.RequiredAcks"},
		{"transactional", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"),
			kafka.WithClientOptions(kgo.TransactionalID("t"))}, "kgo.DisableAutoCommit"},
		{"direct partitions", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"),
			kafka.WithClientOptions(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"other": {0: kgo.NewOffset()}}))},
			"direct-partition"},
		{"autocommit off", echoMux(), []kafka.ServerOption{brokers, kafka.WithGroup("g"),
			kafka.WithClientOptions(kgo.DisableAutoCommit())}, "autocommit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kafka.NewServer(tc.mux, tc.opts...)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			start := time.Now()
			err := srv.Start(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "kafka: ") {
				t.Fatalf("Start = %v, want an error with %q", err, tc.want)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("Start took %v, beyond its ctx", d)
			}
			if err := srv.Stop(ctx); err != nil {
				t.Errorf("Stop after a failed Start: %v", err)
			}
		})
	}
}

// TestCreateTopics lets the server create its topics.
func TestCreateTopics(t *testing.T) {
	c := kafkatest.Start(t)
	serve(t, echoMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"),
		kafka.WithCreateTopics(3), kafka.WithDeadLetterTopic("dead"))
	cl := newClient(t, c)
	resp, err := cl.Call(t.Context(), "work", "echo", []byte("hi"))
	if err != nil || string(resp) != "hi" {
		t.Fatalf("Call = %q, %v", resp, err)
	}
	if err := cl.Send(t.Context(), "work", "echo", nil); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycle checks Stop before Start, Start twice and calls after Close.
func TestLifecycle(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"))
	srv := kafka.NewServer(echoMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"))
	if err := srv.Stop(t.Context()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := srv.Start(t.Context()); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after Stop = %v, want micro.ErrServerStopped", err)
	}

	r := serve(t, echoMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"))
	if err := r.srv.Start(t.Context()); err == nil {
		t.Fatal("second Start succeeded")
	}

	cl := newClient(t, c)
	if _, err := cl.Call(t.Context(), "work", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := cl.Call(t.Context(), "work", "echo", nil)
	wantCode(t, err, micro.Unavailable)
	wantCode(t, cl.Send(t.Context(), "work", "echo", nil), micro.Unavailable)
	if errors.Is(err, context.Canceled) {
		t.Fatal("closed client reported Canceled")
	}
}

// TestDeadLetterTopicIsANamespace lets a dead-letter topic be one of the
// served namespaces' topics: it is created once.
func TestDeadLetterTopicIsANamespace(t *testing.T) {
	c := kafkatest.Start(t)
	serve(t, echoMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"),
		kafka.WithCreateTopics(1), kafka.WithDeadLetterTopic("work"))
	if resp, err := newClient(t, c).Call(t.Context(), "work", "echo", []byte("hi")); err != nil || string(resp) != "hi" {
		t.Fatalf("Call = %q, %v", resp, err)
	}
}

// TestZeroSizeLimitIsDefault: WithMaxMessageSize(0) means the default
// limit, on both sides, not a limit of zero bytes.
func TestZeroSizeLimitIsDefault(t *testing.T) {
	c := kafkatest.Start(t)
	serve(t, echoMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"),
		kafka.WithCreateTopics(1), kafka.WithMaxMessageSize(0))
	if resp, err := newClient(t, c, kafka.WithMaxMessageSize(-1)).Call(t.Context(), "work", "echo", []byte("hi")); err != nil || string(resp) != "hi" {
		t.Fatalf("Call = %q, %v", resp, err)
	}
}
