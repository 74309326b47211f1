package jetstream_test

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

var payload = make([]byte, 64)

// benchStream creates a stream of its own for "prefix.b.*", as Start
// would with WithCreateStream, and returns the prefix.
func benchStream(b *testing.B, js natsjs.JetStream) string {
	b.Helper()
	prefix := newPrefix() + nuid.Next()[:8] // of its own on a nats-server that other runs used too
	if _, err := js.CreateStream(context.Background(), natsjs.StreamConfig{
		Name: prefix + "_b", Subjects: []string{prefix + ".b.*"}, Storage: natsjs.FileStorage,
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), prefix+"_b") })
	return prefix
}

// BenchmarkSend compares Client.Send with nats.go's jetstream Publish of
// the same message with a Nats-Msg-Id, each awaiting the stream's
// acknowledgement: one at a time (seq) and from many goroutines (par).
func BenchmarkSend(b *testing.B) {
	ns := startJS(b)
	_, js := connect(b, ns)
	ctx := context.Background()
	for _, mode := range []string{"seq", "par"} {
		run := func(b *testing.B, send func() error) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			if mode == "seq" {
				for b.Loop() {
					if err := send(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := send(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		b.Run("mode="+mode+"/impl=micro", func(b *testing.B) {
			prefix := benchStream(b, js)
			c := newClient(b, ns, jetstream.WithPrefix(prefix))
			run(b, func() error { return c.Send(ctx, "b", "sink", payload) })
		})
		b.Run("mode="+mode+"/impl=raw", func(b *testing.B) {
			prefix := benchStream(b, js)
			nc, err := natsgo.Connect(ns.URL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			rjs, _ := natsjs.New(nc)
			subj := prefix + ".b.sink"
			run(b, func() error {
				_, err := rjs.Publish(ctx, subj, payload, natsjs.WithMsgID(nuid.Next()))
				return err
			})
		})
	}
}

// BenchmarkSendPaired runs Client.Send and the raw Publish of
// BenchmarkSend alternately in one loop, one at a time, so that both see
// the same load from one moment to the next; each iteration sends one
// message each way, in turns which goes first. It reports each side's mean
// time per send and micro's throughput as a fraction of raw's.
func BenchmarkSendPaired(b *testing.B) {
	ns := startJS(b)
	_, js := connect(b, ns)
	ctx := context.Background()
	c := newClient(b, ns, jetstream.WithPrefix(benchStream(b, js)))
	rawPrefix := benchStream(b, js)
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	rjs, _ := natsjs.New(nc)
	sends := [2]func() error{
		func() error { return c.Send(ctx, "b", "sink", payload) },
		func() error {
			_, err := rjs.Publish(ctx, rawPrefix+".b.sink", payload, natsjs.WithMsgID(nuid.Next()))
			return err
		},
	}
	var took [2]time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for k := range 2 {
			side := (i + k) % 2
			t0 := time.Now()
			if err := sends[side](); err != nil {
				b.Fatal(err)
			}
			took[side] += time.Since(t0)
		}
		i++
	}
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "micro-ns/send")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "raw-ns/send")
	b.ReportMetric(float64(took[1])/float64(took[0]), "micro/raw-throughput")
}

// benchURL is the URL of a nats-server that the benchmark did not start.
type benchURL string

func (u benchURL) URL() string { return string(u) }

// cpu returns the CPU time the process has used, user and system, so
// that a benchmark can report CPU per message beside wall time: on a
// shared machine the wall time moves with the other jobs' load.
func cpu() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkConsume compares a Server handling b.N stored messages with a
// raw jetstream Consume loop on a durable of the same settings, each
// acknowledging every message after the same handler: from the start of
// consuming until the last message was handled.
//
// With MICRO_BENCH_NATS_URL set, both sides use that nats-server instead
// of an embedded one (a nats-server with JetStream of its own, such as
// "nats-server -js -sd /tmp/ns -p 4333"), so that the CPU per message is
// the client's only.
func BenchmarkConsume(b *testing.B) {
	var ns interface{ URL() string } = benchURL(os.Getenv("MICRO_BENCH_NATS_URL"))
	if ns.URL() == "" {
		ns = startJS(b)
	}
	nc0, err := natsgo.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc0.Close()
	js, _ := natsjs.New(nc0)
	handle := func(n *atomic.Int64, done chan struct{}, total int64) {
		if n.Add(1) == total {
			close(done)
		}
	}
	b.Run("impl=micro", func(b *testing.B) {
		prefix := benchStream(b, js)
		publishAll(b, js, prefix+".b.work", b.N)
		var n atomic.Int64
		done := make(chan struct{})
		mux := micro.NewMux()
		mux.HandleFunc("b", "work", func(context.Context, []byte) ([]byte, error) {
			handle(&n, done, int64(b.N))
			return nil, nil
		})
		srv := jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithPrefix(prefix))
		b.ReportAllocs()
		b.ResetTimer()
		r0 := cpu()
		stop := running(b, srv)
		<-done
		b.StopTimer()
		b.ReportMetric(float64(cpu()-r0)/float64(b.N), "cpu-ns/msg")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		_, _ = stop(10 * time.Second)
	})
	b.Run("impl=raw", func(b *testing.B) {
		prefix := benchStream(b, js)
		publishAll(b, js, prefix+".b.work", b.N)
		nc, err := natsgo.Connect(ns.URL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		rjs, _ := natsjs.New(nc)
		var n atomic.Int64
		done := make(chan struct{})
		b.ReportAllocs()
		b.ResetTimer()
		cons, err := rjs.CreateOrUpdateConsumer(context.Background(), prefix+"_b", natsjs.ConsumerConfig{
			Durable: "test", AckPolicy: natsjs.AckExplicitPolicy, AckWait: jetstream.DefaultAckWait,
			MaxDeliver: jetstream.DefaultRetries + 6, MaxAckPending: jetstream.DefaultMaxAckPending, FilterSubject: prefix + ".b.*",
		})
		if err != nil {
			b.Fatal(err)
		}
		r0 := cpu()
		cc, err := cons.Consume(func(m natsjs.Msg) {
			handle(&n, done, int64(b.N))
			_ = m.Ack()
		})
		if err != nil {
			b.Fatal(err)
		}
		<-done
		b.StopTimer()
		b.ReportMetric(float64(cpu()-r0)/float64(b.N), "cpu-ns/msg")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		cc.Stop()
	})
}
