package jetstream_test

import (
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

func TestConformance(t *testing.T) {
	ns := startJS(t)
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			p := jetstream.WithPrefix(newPrefix())
			srv := serve(t, ns, mux, p, jetstream.WithMaxMessageSize(testLimit))
			return srv, newClient(t, ns, p, jetstream.WithMaxMessageSize(testLimit))
		},
		MaxMessageSize: testLimit,
		Features: microtest.Features{
			// A request to a stopped server waits in its stream for the
			// next one: nobody answers before the deadline.
			CallAfterStop: micro.DeadlineExceeded,
			// A caller's cancellation has no signal on NATS.
			NoCancel: true,
		},
	})
}
