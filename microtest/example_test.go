package microtest_test

import (
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/inproc"
)

// A transport proves itself by running the suite in its own tests. This is
// how the inproc transport runs it; a network transport starts its server
// on a free port and dials it, and declares in Features what its medium
// cannot do.
func ExampleRun() {
	conformance := func(t *testing.T) {
		microtest.Run(t, microtest.Transport{
			New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
				srv := inproc.NewServer(mux)
				microtest.Serve(t, nil, srv) // started and ready; stopped at cleanup
				c := inproc.NewClient(srv)
				t.Cleanup(func() { c.Close() })
				return srv, c
			},
		})
	}
	_ = conformance // in a _test.go file: func TestConformance(t *testing.T) { ... }
}
