package bench

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// startInproc serves mux in process for the benchmark's lifetime.
func startInproc(b *testing.B, mux *micro.Mux) *inproc.Client {
	srv := inproc.NewServer(mux)
	startServer(b, srv, srv.Ready())
	return inproc.NewClient(srv)
}

// BenchmarkCall/transport=inproc: a micro Call through the in-process
// transport to an echo handler. There is no network and so no raw baseline.
func BenchmarkCallInproc(b *testing.B) {
	mux := micro.NewMux()
	mux.HandleFunc("bench", "echo", echo)
	c := startInproc(b, mux)
	b.Run("transport=inproc/impl=micro", func(b *testing.B) {
		benchCall(b, func(ctx context.Context, req []byte) ([]byte, error) {
			return c.Call(ctx, "bench", "echo", req)
		})
	})
}

// BenchmarkSendInproc compares one-way messages in one process: micro's
// inproc Send to a handler that counts, against Watermill's Router with one
// handler that counts, subscribed to a GoChannel Pub/Sub that the benchmark
// publishes to (default config: Publish does not wait for the ack).
func BenchmarkSendInproc(b *testing.B) {
	b.Run("transport=inproc/impl=micro", func(b *testing.B) {
		s := newSink()
		c := startInproc(b, countingMux("bench", s))
		benchSend(b, s, func(ctx context.Context, msg []byte) error {
			return c.Send(ctx, "bench", "echo", msg)
		})
	})
	b.Run("transport=inproc/impl=watermill", func(b *testing.B) {
		s := newSink()
		pubSub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		runRouter(b, pubSub, "bench.echo", s)
		b.Cleanup(func() { pubSub.Close() })
		benchSend(b, s, func(_ context.Context, msg []byte) error {
			return pubSub.Publish("bench.echo", message.NewMessage(watermill.NewUUID(), msg))
		})
	})
}

// runRouter runs a Watermill Router with one handler, which counts the
// messages of topic on s and acks them, until the benchmark ends.
func runRouter(b *testing.B, sub message.Subscriber, topic string, s *sink) {
	r, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	r.AddConsumerHandler("echo", topic, sub, func(*message.Message) error {
		s.handled()
		return nil
	})
	ran := make(chan error, 1)
	go func() { ran <- r.Run(context.Background()) }()
	b.Cleanup(func() {
		r.Close()
		if err := <-ran; err != nil {
			b.Error(err)
		}
	})
	<-r.Running()
}
