package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// BenchmarkConsumeJetStream compares the consuming side of JetStream,
// draining a backlog: b.N messages of 64 bytes are stored beforehand in a
// stream of their own (one subject, file storage, limits retention, one
// replica) on an embedded nats-server with JetStream on a file store in
// the benchmark's temporary directory. The timer runs from starting the
// consumer (creating its durable included) until the last message was
// handled; each implementation acknowledges every message after its
// handler, without waiting for JetStream to confirm the ack:
//
//   - impl=micro: micro's jetstream Server, default settings (512
//     handlers at once, MaxAckPending 1000, AckWait 30 s), with a handler
//     that counts.
//   - impl=raw: nats.go's jetstream Consume on a durable of the same
//     settings, counting and calling Ack in its callback.
//   - impl=watermill: watermill-nats's jetstream Subscriber under a Router
//     with one handler that counts, AckAsync (Ack rather than its default
//     DoubleAck, so that the acks are micro's), default consumer and
//     Consume options otherwise.
func BenchmarkConsumeJetStream(b *testing.B) {
	ns := natstest.Start(b, natstest.WithJetStream())
	nc := connect(b, ns)
	js, err := natsjs.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	var streams atomic.Int64
	payload := make([]byte, 64)
	for _, impl := range []string{"micro", "raw", "watermill"} {
		b.Run("transport=jetstream/impl="+impl+"/size=64B/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			b.StopTimer()
			ctx := context.Background()
			n := streams.Add(1)
			stream, subject := fmt.Sprintf("js%d_b", n), fmt.Sprintf("js%d.b.echo", n)
			if impl == "watermill" { // its stream is named after its topic, the subject
				stream, subject = fmt.Sprintf("wm%d", n), fmt.Sprintf("wm%d", n)
			}
			subjects := subject
			if impl != "watermill" {
				subjects = fmt.Sprintf("js%d.b.*", n) // what micro's stream of a namespace holds
			}
			if _, err := js.CreateStream(ctx, natsjs.StreamConfig{
				Name: stream, Subjects: []string{subjects},
				Retention: natsjs.LimitsPolicy, Storage: natsjs.FileStorage, Replicas: 1,
			}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
			storeAll(b, js, subject, b.N, payload)

			s := &sink{} // no window: the backlog is all of it
			s.arm(b.N)
			b.StartTimer()
			switch impl {
			case "micro":
				mux := micro.NewMux()
				mux.HandleFunc("b", "echo", func(context.Context, []byte) ([]byte, error) {
					s.handled()
					return nil, nil
				})
				srv := jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("bench"),
					jetstream.WithPrefix(fmt.Sprintf("js%d", n)))
				startServer(b, srv, srv.Ready())
			case "raw":
				cons, err := js.CreateOrUpdateConsumer(ctx, stream, natsjs.ConsumerConfig{
					Durable: "bench", AckPolicy: natsjs.AckExplicitPolicy, AckWait: jetstream.DefaultAckWait,
					MaxAckPending: jetstream.DefaultMaxAckPending, FilterSubject: subjects,
				})
				if err != nil {
					b.Fatal(err)
				}
				cc, err := cons.Consume(func(m natsjs.Msg) {
					s.handled()
					_ = m.Ack()
				})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(cc.Stop)
			case "watermill":
				sub, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{URL: ns.URL(), AckAsync: true, Logger: watermill.NopLogger{}})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = sub.Close() })
				runRouter(b, sub, subject, s)
			}
			s.wait(b)
			b.StopTimer()
			reportRate(b)
		})
	}
}

// storeAll publishes n messages of payload to subject and waits until the
// stream has stored every one.
func storeAll(b *testing.B, js natsjs.JetStream, subject string, n int, payload []byte) {
	for i := range n {
		if _, err := js.PublishAsync(subject, payload); err != nil {
			b.Fatalf("publish %d: %v", i, err)
		}
		if i%1000 == 999 || i == n-1 { // stay under nats.go's bound of pending publishes
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(waitFor):
				b.Fatal("publishes not acknowledged")
			}
		}
	}
}
