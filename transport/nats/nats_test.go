package nats_test

import (
	"context"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

// serve starts a Server for mux on ns with opts, and returns a Client of
// it given those of opts that apply to both sides.
func serve(t testing.TB, ns *natstest.Server, mux *micro.Mux, opts ...nats.ServerOption) (*nats.Server, *nats.Client) {
	t.Helper()
	srv := nats.NewServer(mux, append([]nats.ServerOption{nats.WithURL(ns.URL())}, opts...)...)
	microtest.Serve(t, nil, srv)
	var copts []nats.ClientOption
	for _, o := range opts {
		if o, ok := o.(nats.ClientOption); ok {
			copts = append(copts, o)
		}
	}
	return srv, newClient(t, ns, copts...)
}

func newClient(t testing.TB, ns *natstest.Server, opts ...nats.ClientOption) *nats.Client {
	t.Helper()
	c, err := nats.NewClient(append([]nats.ClientOption{nats.WithURL(ns.URL())}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	ns := natstest.Start(t)
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			return serve(t, ns, mux, nats.WithMaxMessageSize(testLimit))
		},
		MaxMessageSize: testLimit,
		Features: microtest.Features{
			// A namespace no server subscribes to gets no responders, as
			// does a stopped server: NATS cannot tell them apart, and
			// Unavailable is the code a caller should retry.
			UnknownNamespace: micro.Unavailable,
			// NATS has no signal for a caller giving up.
			NoCancel: true,
		},
	})
}

// connect returns a raw nats.go connection to ns, closed at cleanup.
func connect(t testing.TB, ns *natstest.Server, opts ...natsgo.Option) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(ns.URL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testCtx is bounded by microtest.Timeout and by the test.
func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), microtest.Timeout)
	t.Cleanup(cancel)
	return c
}

// echoMux returns a Mux with test.echo, which echoes, and test.block, which
// signals entered and waits for release.
func echoMux(entered chan<- struct{}, release <-chan struct{}) *micro.Mux {
	m := micro.NewMux()
	m.HandleFunc("test", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	m.HandleFunc("test", "block", func(context.Context, []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return []byte("done"), nil
	})
	return m
}
