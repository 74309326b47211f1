package http_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections() // of the raw requests
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const testLimit = 64 << 10

// serve starts a Server for mux on a free loopback port and returns it with
// a Client of it; both are released at cleanup.
func serve(t testing.TB, mux *micro.Mux, opts ...microhttp.ServerOption) (*microhttp.Server, *microhttp.Client) {
	t.Helper()
	srv := microhttp.NewServer(mux, append([]microhttp.ServerOption{microhttp.WithAddress("127.0.0.1:0")}, opts...)...)
	microtest.Serve(t, nil, srv)
	c, err := microhttp.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := microhttp.NewServer(mux, microhttp.WithAddress("127.0.0.1:0"), microhttp.WithMaxMessageSize(testLimit))
			microtest.Serve(t, nil, srv)
			c, err := microhttp.NewClient(srv.Addr().String(), microhttp.WithMaxMessageSize(testLimit))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		MaxMessageSize: testLimit,
		Skip:           suiteSkips,
	})
}

// suiteSkips are cases where the microtest branch and main's kit disagree,
// whatever the transport: inproc fails them alike. They go once microtest
// follows main.
var suiteSkips = map[string]string{
	"ReservedHeaders": "microtest: the case still counts content-type as reserved; main's kit " +
		"(transport.Reserved) made it the codec's header",
	"InvalidReplyHeaders": "microtest: the case still counts content-type as reserved, and wants the key " +
		"lower-cased in the message, which transport.Dispatcher does not do yet",
}
