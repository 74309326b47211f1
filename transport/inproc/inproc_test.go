package inproc_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := inproc.NewServer(mux, inproc.WithMaxMessageSize(testLimit))
			microtest.Serve(t, nil, srv)
			c := inproc.NewClient(srv)
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		MaxMessageSize: testLimit,
	})
}
