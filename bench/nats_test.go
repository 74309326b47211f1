package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport"
	micronats "github.com/dancinggopher/micro/transport/nats"
)

// connect returns a connection to ns, closed when the benchmark ends.
func connect(b *testing.B, ns *natstest.Server) *natsgo.Conn {
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// serveMicroNATS serves mux over NATS on ns and returns a Client of it.
func serveMicroNATS(b *testing.B, ns *natstest.Server, mux *micro.Mux) *micronats.Client {
	srv := micronats.NewServer(mux, micronats.WithURL(ns.URL()))
	startServer(b, srv, srv.Ready())
	c, err := micronats.NewClient(micronats.WithURL(ns.URL()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkCallNATS compares request-reply over an embedded nats-server,
// each implementation on its own connections:
//
//   - impl=micro: micro's NATS Client.Call to its Server, echo handler.
//   - impl=raw: nats.go's Conn.Request to a queue subscription whose
//     callback responds with the request's data.
//   - impl=rawhdr: raw plus the Micro-Deadline header the wire contract
//     puts on every micro call (so a header message, HPUB), to tell the
//     contract's cost from the framework's.
//   - impl=natsmicro: nats.go's micro package (AddService, one endpoint
//     that responds with the request's data), called with Conn.Request.
func BenchmarkCallNATS(b *testing.B) {
	ns := natstest.Start(b)
	for _, impl := range []string{"micro", "raw", "rawhdr", "natsmicro"} {
		b.Run("transport=nats/impl="+impl, func(b *testing.B) {
			benchCall(b, natsCaller(b, ns, impl))
		})
	}
}

// natsCaller serves the echo work of impl (micro, raw, rawhdr or
// natsmicro, as BenchmarkCallNATS describes them) on ns until the
// benchmark ends and returns its call.
func natsCaller(b *testing.B, ns *natstest.Server, impl string) func(ctx context.Context, req []byte) ([]byte, error) {
	request := func(nc *natsgo.Conn, subject string) func(context.Context, []byte) ([]byte, error) {
		return func(_ context.Context, req []byte) ([]byte, error) {
			m, err := nc.Request(subject, req, micro.DefaultCallTimeout)
			if err != nil {
				return nil, err
			}
			return m.Data, nil
		}
	}
	switch impl {
	case "micro":
		mux := micro.NewMux()
		mux.HandleFunc("bench", "echo", echo)
		c := serveMicroNATS(b, ns, mux)
		return func(ctx context.Context, req []byte) ([]byte, error) { return c.Call(ctx, "bench", "echo", req) }
	case "raw", "rawhdr":
		srv := connect(b, ns)
		if _, err := srv.QueueSubscribe("raw.echo", "raw", func(m *natsgo.Msg) { _ = m.Respond(m.Data) }); err != nil {
			b.Fatal(err)
		}
		if err := srv.Flush(); err != nil {
			b.Fatal(err)
		}
		nc := connect(b, ns)
		if impl == "raw" {
			return request(nc, "raw.echo")
		}
		return func(_ context.Context, req []byte) ([]byte, error) {
			// As micro's Client does: the deadline of the call, formatted per call.
			deadline := transport.FormatDeadline(time.Now().Add(micro.DefaultCallTimeout))
			m := &natsgo.Msg{Subject: "raw.echo", Data: req, Header: natsgo.Header{"Micro-Deadline": {deadline}}}
			r, err := nc.RequestMsg(m, micro.DefaultCallTimeout)
			if err != nil {
				return nil, err
			}
			return r.Data, nil
		}
	case "natsmicro":
		return request(addNATSMicro(b, ns, func(req natsmicro.Request) { _ = req.Respond(req.Data()) }), "natsmicro.echo")
	}
	b.Fatalf("unknown NATS impl %q", impl)
	return nil
}

// addNATSMicro serves h as the endpoint "natsmicro.echo" of a nats.go micro
// service on ns and returns a client connection.
func addNATSMicro(b *testing.B, ns *natstest.Server, h natsmicro.HandlerFunc) *natsgo.Conn {
	srv := connect(b, ns)
	svc, err := natsmicro.AddService(srv, natsmicro.Config{
		Name: "natsmicro", Version: "1.0.0",
		Endpoint: &natsmicro.EndpointConfig{Subject: "natsmicro.echo", Handler: h},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Stop() })
	if err := srv.Flush(); err != nil {
		b.Fatal(err)
	}
	return connect(b, ns)
}

// slowHandler is the duration of the handler of BenchmarkSlowCallNATS.
const slowHandler = time.Millisecond

// BenchmarkSlowCallNATS compares request-reply to a handler that takes 1 ms
// (it sleeps; ms/handler reports how long the sleep really took), called by
// inFlight concurrent callers with 64 B payloads:
// micro runs handlers concurrently, nats.go's micro package calls its
// handler from the subscription's one callback goroutine.
func BenchmarkSlowCallNATS(b *testing.B) {
	ns := natstest.Start(b)
	req := make([]byte, 64)
	var slept, calls atomic.Int64
	sleep := func() {
		t := time.Now()
		time.Sleep(slowHandler)
		slept.Add(int64(time.Since(t)))
		calls.Add(1)
	}
	run := func(b *testing.B, call func(req []byte) ([]byte, error)) {
		b.Run("size=64B/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism())
			slept.Store(0)
			calls.Store(0)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := call(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
			if n := calls.Load(); n > 0 {
				// What the 1 ms sleep really took: on a loaded machine, more.
				b.ReportMetric(float64(slept.Load())/float64(n)/1e6, "ms/handler")
			}
		})
	}
	b.Run("transport=nats/impl=micro", func(b *testing.B) {
		mux := micro.NewMux()
		mux.HandleFunc("bench", "slow", func(_ context.Context, req []byte) ([]byte, error) {
			sleep()
			return req, nil
		})
		c := serveMicroNATS(b, ns, mux)
		run(b, func(req []byte) ([]byte, error) { return c.Call(context.Background(), "bench", "slow", req) })
	})
	b.Run("transport=nats/impl=natsmicro", func(b *testing.B) {
		nc := addNATSMicro(b, ns, func(req natsmicro.Request) {
			sleep()
			req.Respond(req.Data())
		})
		run(b, func(req []byte) ([]byte, error) {
			m, err := nc.Request("natsmicro.echo", req, micro.DefaultCallTimeout)
			if err != nil {
				return nil, err
			}
			return m.Data, nil
		})
	})
}

// BenchmarkSendNATS compares one-way messages over core NATS, from publish
// until a handler counted the message:
//
//   - impl=micro: micro's NATS Client.Send to its Server's handler.
//   - impl=raw: nats.go's Conn.Publish to a subscription callback.
//   - impl=watermill: watermill-nats's Publisher (core NATS, JetStream off)
//     to a Router with one handler on its Subscriber (default config: one
//     subscription, a message is acked before the next is delivered).
func BenchmarkSendNATS(b *testing.B) {
	ns := natstest.Start(b)
	b.Run("transport=nats/impl=micro", func(b *testing.B) {
		s := newSink()
		c := serveMicroNATS(b, ns, countingMux("bench", s))
		benchSend(b, s, func(ctx context.Context, msg []byte) error {
			return c.Send(ctx, "bench", "echo", msg)
		})
	})
	b.Run("transport=nats/impl=raw", func(b *testing.B) {
		s := newSink()
		srv := connect(b, ns)
		if _, err := srv.Subscribe("raw.send", func(*natsgo.Msg) { s.handled() }); err != nil {
			b.Fatal(err)
		}
		if err := srv.Flush(); err != nil {
			b.Fatal(err)
		}
		nc := connect(b, ns)
		benchSend(b, s, func(_ context.Context, msg []byte) error { return nc.Publish("raw.send", msg) })
	})
	b.Run("transport=nats/impl=watermill", func(b *testing.B) {
		s := newSink()
		jsOff := wmnats.JetStreamConfig{Disabled: true}
		sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{URL: ns.URL(), JetStream: jsOff}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		runRouter(b, sub, "watermill.send", s)
		pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: ns.URL(), JetStream: jsOff}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pub.Close() })
		benchSend(b, s, func(_ context.Context, msg []byte) error {
			return pub.Publish("watermill.send", message.NewMessage(watermill.NewUUID(), msg))
		})
	})
}
