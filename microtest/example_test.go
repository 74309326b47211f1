package microtest_test

import (
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/inproc"
)

// A transport proves itself by running the suite in its own tests. This is
// how the inproc transport runs it; a network transport starts its server
// on a free port and dials it, declares in Features what its medium cannot
// do, and names in Skip the cases it does not meet yet.
func ExampleRun() {
	tr := microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := inproc.NewServer(mux)
			microtest.Serve(t, nil, srv) // started and ready; stopped at cleanup
			c := inproc.NewClient(srv)
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		Skip: map[string]string{
			"DefaultDeadline": "no default deadline yet: issue #12",
		},
	}
	// In a _test.go file:
	conformance := func(t *testing.T) { microtest.Run(t, tr) }     // func TestConformance(t *testing.T)
	stress := func(t *testing.T) { microtest.Stress(t, tr, 3) }    // the battery 3 times at once
	roundTrip := func(t *testing.T) { microtest.RoundTrip(t, tr) } // one case alone
	_, _, _ = conformance, stress, roundTrip
}
