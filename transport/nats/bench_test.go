package nats_test

import (
	"context"
	"github.com/dancinggopher/micro/internal/testutil"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// BenchmarkCall measures an echo call through micro (impl=micro: Client.Call
// to a Server) beside raw nats.go doing the same work (impl=raw: a request
// with a ctx deadline to a queue subscriber that responds with the data in
// its callback), each over its own client and server connections to one
// embedded nats-server. impl=rawhdr is raw plus the Micro-Deadline header
// the wire contract puts on every call, which makes it a header message, to
// tell the contract's cost from the framework's. mode=seq is one caller,
// mode=par 16. Compare with benchstat -col /impl.
func BenchmarkCall(b *testing.B) {
	ns := natstest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	mux := micro.NewMux()
	mux.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()))
	microtest.Serve(b, nil, srv)
	c := newClient(b, ns)

	responder := connect(b, ns)
	if _, err := responder.QueueSubscribe("raw.echo", "micro", func(m *natsgo.Msg) { _ = m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		b.Fatal(err)
	}
	raw := connect(b, ns)
	d, _ := ctx.Deadline()
	deadline := strconv.FormatInt(d.UnixMilli(), 10)

	impls := []struct {
		name string
		call func(req []byte) error
	}{
		{"micro", func(req []byte) error { _, err := c.Call(ctx, "bench", "echo", req); return err }},
		{"raw", func(req []byte) error { _, err := raw.RequestWithContext(ctx, "raw.echo", req); return err }},
		{"rawhdr", func(req []byte) error {
			m := &natsgo.Msg{Subject: "raw.echo", Data: req, Header: natsgo.Header{"Micro-Deadline": {deadline}}}
			_, err := raw.RequestMsgWithContext(ctx, m)
			return err
		}},
	}
	for _, impl := range impls {
		for _, size := range []struct {
			name string
			n    int
		}{{"64B", 64}, {"4KiB", 4 << 10}} {
			req := make([]byte, size.n)
			b.Run("impl="+impl.name+"/size="+size.name+"/mode=seq", func(b *testing.B) {
				b.SetBytes(int64(size.n))
				defer reportCPU(b)()
				for b.Loop() {
					if err := impl.call(req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("impl="+impl.name+"/size="+size.name+"/mode=par", func(b *testing.B) {
				b.SetBytes(int64(size.n))
				b.SetParallelism(callers())
				defer reportCPU(b)()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := impl.call(req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkSlowHandler measures throughput with a handler that takes 1 ms
// and 16 concurrent callers: micro's Server (impl=micro) runs handlers
// concurrently, a nats.go micro service (impl=natsmicro) runs them one at a
// time on its subscription. Both are called with the micro Client.
func BenchmarkSlowHandler(b *testing.B) {
	const callers = 16
	slow := func() { time.Sleep(time.Millisecond) }
	ns := natstest.Start(b)

	mux := micro.NewMux()
	mux.HandleFunc("bench", "slow", func(_ context.Context, req []byte) ([]byte, error) {
		slow()
		return req, nil
	})
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()))
	microtest.Serve(b, nil, srv)

	svc, err := natsmicro.AddService(connect(b, ns), natsmicro.Config{
		Name: "natsmicro", Version: "1.0.0",
		Endpoint: &natsmicro.EndpointConfig{Subject: "natsmicro.slow", Handler: natsmicro.HandlerFunc(func(r natsmicro.Request) {
			slow()
			_ = r.Respond(r.Data())
		})},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Stop() })
	c := newClient(b, ns)

	for _, namespace := range []string{"bench", "natsmicro"} {
		impl := map[string]string{"bench": "micro", "natsmicro": "natsmicro"}[namespace]
		b.Run("impl="+impl, func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						_, err := c.Call(ctx, namespace, "slow", []byte("x"))
						cancel()
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSend measures one-way messages from publish until a handler has
// counted them: micro's Client.Send to a Server (impl=micro) beside raw
// nats.go (impl=raw: Conn.Publish to a queue subscription that counts in
// its callback), each over its own connections to one embedded
// nats-server, from one sender (mode=seq) and from 16 (mode=par). At most
// sendWindow messages are unhandled at once, the same for both, so that
// neither side drops a message under a sender that outruns it. Compare
// with benchstat -col /impl.
func BenchmarkSend(b *testing.B) {
	ns := natstest.Start(b)
	micro_, raw := newSendSink(), newSendSink()
	mux := micro.NewMux()
	mux.HandleFunc("bench", "count", func(context.Context, []byte) ([]byte, error) {
		micro_.handled()
		return nil, nil
	})
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()))
	microtest.Serve(b, nil, srv)
	c := newClient(b, ns)

	responder := connect(b, ns)
	if _, err := responder.QueueSubscribe("raw.count", "micro", func(*natsgo.Msg) { raw.handled() }); err != nil {
		b.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		b.Fatal(err)
	}
	pub := connect(b, ns)

	ctx := context.Background()
	impls := []struct {
		name string
		s    *sendSink
		send func(msg []byte) error
	}{
		{"micro", micro_, func(msg []byte) error { return c.Send(ctx, "bench", "count", msg) }},
		{"raw", raw, func(msg []byte) error { return pub.Publish("raw.count", msg) }},
	}
	msg := make([]byte, 64)
	for _, impl := range impls {
		one := func() error {
			impl.s.win.Acquire()
			if err := impl.send(msg); err != nil {
				impl.s.win.Release()
				return err
			}
			return nil
		}
		b.Run("impl="+impl.name+"/size=64B/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			impl.s.arm(b.N)
			for range b.N {
				if err := one(); err != nil {
					b.Fatal(err)
				}
			}
			impl.s.wait(b)
		})
		b.Run("impl="+impl.name+"/size=64B/mode=par", func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			b.SetParallelism(callers())
			impl.s.arm(b.N)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := one(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			impl.s.wait(b)
		})
	}
}

// callers makes b.RunParallel run 16 goroutines.
func callers() int { return (16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0) }

// sendWindow bounds the one-way messages sent but not yet handled.
const sendWindow = 512

// sendSink counts the one-way messages that reached a handler.
type sendSink struct {
	want, got atomic.Int64
	done      chan struct{}
	win       *testutil.Window
}

func newSendSink() *sendSink { return &sendSink{win: testutil.NewWindow(sendWindow)} }

// arm expects n messages.
func (s *sendSink) arm(n int) {
	s.got.Store(0)
	s.want.Store(int64(n))
	s.done = make(chan struct{})
}

// handled is called by a handler for each message.
func (s *sendSink) handled() {
	s.win.Release()
	if s.got.Add(1) == s.want.Load() {
		close(s.done)
	}
}

// wait blocks until every armed message was handled.
func (s *sendSink) wait(b *testing.B) {
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages handled after a minute", s.got.Load(), s.want.Load())
	}
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}
