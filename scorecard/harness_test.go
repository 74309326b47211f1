package scorecard_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	grpclib "google.golang.org/grpc"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/grpc"
	"github.com/dancinggopher/micro/transport/inproc"
	"github.com/dancinggopher/micro/transport/kafka"
	"github.com/dancinggopher/micro/transport/nats"
)

// long reports whether the long variants run (MICRO_SCORECARD_LONG=1).
func long() bool {
	v, _ := strconv.ParseBool(os.Getenv("MICRO_SCORECARD_LONG"))
	return v
}

// transport is one row of every table: how to bring up its medium for one
// test.
type transport struct {
	name  string
	start func(t testing.TB) *env
}

var transports = []transport{
	{"inproc", startInproc},
	{"grpc", startGRPC},
	{"nats", startNATS},
	{"kafka", startKafka},
}

// config is what a test asks of a transport's server and client.
type config struct {
	// maxMessageSize is the payload limit of server and client; 0 means
	// the default, micro.DefaultMaxMessageSize.
	maxMessageSize int
	// concurrency bounds how many handlers run at once where the
	// transport has such a bound (NATS, Kafka; gRPC through
	// MaxConcurrentStreams); 0 means the transport's default.
	concurrency int
}

// env is a transport's medium for one test: the embedded broker or the
// loopback listener, and how to make servers and clients on it. Servers
// and clients are released at the test's cleanup.
type env struct {
	name string
	// server returns a Server for mux; it is not started.
	server func(mux *micro.Mux, c config) micro.Server
	// client returns a Client of the last server made, closed at cleanup.
	client func(c config) micro.Client
	// conns returns how many connections to the medium are open, or -1
	// where there is none (inproc).
	conns func() int
	// addr is the address of the last gRPC server made, or the NATS
	// server's URL.
	addr string
}

func startInproc(t testing.TB) *env {
	var last *inproc.Server
	return &env{
		name: "inproc",
		server: func(mux *micro.Mux, c config) micro.Server {
			last = inproc.NewServer(mux, inproc.WithMaxMessageSize(limit(c)))
			return last
		},
		client: func(config) micro.Client {
			cl := inproc.NewClient(last)
			t.Cleanup(func() { cl.Close() })
			return cl
		},
		conns: func() int { return -1 },
	}
}

func startGRPC(t testing.TB) *env {
	cnt := &connCount{}
	e := &env{name: "grpc", conns: cnt.open}
	e.server = func(mux *micro.Mux, c config) micro.Server {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.addr = l.Addr().String()
		opts := []grpc.ServerOption{grpc.WithListener(cnt.listener(l)), grpc.WithMaxMessageSize(limit(c))}
		if c.concurrency > 0 {
			opts = append(opts, grpc.WithServerOptions(grpclib.MaxConcurrentStreams(uint32(c.concurrency))))
		}
		return grpc.NewServer(mux, opts...)
	}
	e.client = func(c config) micro.Client {
		cl, err := grpc.NewClient(e.addr, grpc.WithMaxMessageSize(limit(c)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	return e
}

func startNATS(t testing.TB) *env {
	ns := runNATS(t)
	return &env{
		name: "nats",
		addr: ns.URL(),
		server: func(mux *micro.Mux, c config) micro.Server {
			opts := []nats.ServerOption{nats.WithURL(ns.URL()), nats.WithMaxMessageSize(limit(c))}
			if c.concurrency > 0 {
				opts = append(opts, nats.WithConcurrency(c.concurrency))
			}
			return nats.NewServer(mux, opts...)
		},
		client: func(c config) micro.Client {
			cl, err := nats.NewClient(nats.WithURL(ns.URL()), nats.WithMaxMessageSize(limit(c)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			return cl
		},
		conns: ns.NATSServer().NumClients,
	}
}

// runNATS starts an embedded nats-server for t with room for a payload at
// the default limit plus its headers; the NATS server's own default is
// 1 MiB.
func runNATS(t testing.TB) *natstest.Server {
	t.Helper()
	return natstest.Start(t, natstest.WithMaxPayload(micro.DefaultMaxMessageSize+1<<20))
}

func startKafka(t testing.TB) *env {
	cnt := &connCount{}
	c := kafkatest.Start(t,
		// Room for a payload at the default limit plus its headers.
		kafkatest.WithMaxMessageBytes(micro.DefaultMaxMessageSize+1<<20),
		kafkatest.WithClusterOptions(kfake.ListenFn(func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			return cnt.listener(l), nil
		})),
	)
	return &env{
		name: "kafka",
		server: func(mux *micro.Mux, cfg config) micro.Server {
			n := cfg.concurrency
			if n == 0 {
				n = kafka.DefaultConcurrency
			}
			return kafka.NewServer(mux,
				kafka.WithBrokers(c.Addrs()...),
				kafka.WithMaxMessageSize(limit(cfg)),
				kafka.WithConcurrency(n),
				// One partition per concurrent handler: a partition's
				// records are handled one at a time.
				kafka.WithCreateTopics(int32(n)),
			)
		},
		client: func(cfg config) micro.Client {
			cl, err := kafka.NewClient(kafka.WithBrokers(c.Addrs()...), kafka.WithMaxMessageSize(limit(cfg)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			return cl
		},
		conns: cnt.open,
	}
}

func limit(c config) int {
	if c.maxMessageSize == 0 {
		return micro.DefaultMaxMessageSize
	}
	return c.maxMessageSize
}

// running is a micro.Service running one server.
type running struct {
	cancel  context.CancelFunc
	done    chan error
	timeout time.Duration

	once    sync.Once
	err     error
	elapsed time.Duration
}

// run runs srv under a Service with the given shutdown timeout and waits
// until it is ready. The Service is stopped at cleanup if the test did not.
func run(t testing.TB, srv micro.Server, shutdown time.Duration) *running {
	t.Helper()
	svc := micro.NewService("scorecard-"+srv.(interface{ String() string }).String(), micro.WithShutdownTimeout(shutdown))
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), timeout: shutdown}
	go func() { r.done <- svc.Run(ctx, srv) }()
	select {
	case <-svc.Ready():
	case err := <-r.done:
		cancel()
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("service not ready after 30s")
	}
	t.Cleanup(func() {
		if _, ok := r.stop(); !ok {
			t.Errorf("Run did not return within the shutdown timeout + 10s")
		}
	})
	return r
}

// stop cancels the Service's ctx and waits for Run to return, at most the
// shutdown timeout + 10 s. It returns Run's error, and false if Run did not
// return; elapsed is set to the time from cancel to return.
func (r *running) stop() (error, bool) {
	ok := true
	r.once.Do(func() {
		start := time.Now()
		r.cancel()
		select {
		case r.err = <-r.done:
			r.elapsed = time.Since(start)
		case <-time.After(r.timeout + 10*time.Second):
			ok = false
			r.elapsed = time.Since(start)
		}
	})
	return r.err, ok
}

// connCount counts the open connections accepted by the listeners it wraps.
type connCount struct{ n atomic.Int64 }

func (c *connCount) open() int { return int(c.n.Load()) }

func (c *connCount) listener(l net.Listener) net.Listener { return &countingListener{l, c} }

type countingListener struct {
	net.Listener
	c *connCount
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.n.Add(1)
	return &countedConn{Conn: conn, c: l.c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCount
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.c.n.Add(-1) })
	return c.Conn.Close()
}

// waitFor polls cond until it holds or d passes, and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// knownBugs lists transport bugs this package has found and that are not
// fixed yet, by "transport/check": the check logs instead of failing.
// Remove an entry when its bug is fixed.
var knownBugs = map[string]string{}
