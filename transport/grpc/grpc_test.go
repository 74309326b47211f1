package grpc_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

// serve starts a Server for mux on a free loopback port and returns it with
// a Client of it; both are released at cleanup.
func serve(t testing.TB, mux *micro.Mux, opts ...grpc.Option) (*grpc.Server, *grpc.Client) {
	t.Helper()
	srv := grpc.NewServer(mux, append([]grpc.Option{grpc.WithAddress("127.0.0.1:0")}, opts...)...)
	microtest.Serve(t, nil, srv)
	return srv, dial(t, srv, opts...)
}

// dial returns a Client of srv, closed at cleanup.
func dial(t testing.TB, srv *grpc.Server, opts ...grpc.Option) *grpc.Client {
	t.Helper()
	c, err := grpc.NewClient(srv.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			return serve(t, mux, grpc.WithMaxMessageSize(testLimit))
		},
		MaxMessageSize: testLimit,
		Skip:           kitSkips,
	})
}

func TestConformanceDefaultLimit(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			return serve(t, mux)
		},
		Skip: kitSkips,
	})
}

// kitSkips are the conformance cases this transport does not meet yet,
// each with what fails; each goes once the transport is built on the
// transport kit.
var kitSkips = map[string]string{
	"NilError":            "TODO(kit): a nil *micro.Error from a handler panics",
	"UnknownCodes":        "TODO(kit): codes outside 1..16 reach the caller unchanged or as a grpc-status parse error",
	"ErrorMessages":       "TODO(kit): Unimplemented with gRPC's own wording comes back NotFound",
	"InvalidUTF8Message":  "TODO(kit): each invalid byte becomes its own U+FFFD",
	"LongMessage":         "TODO(kit): error messages over 16 KiB are not cut",
	"ReservedHeaders":     "TODO(kit): reserved request headers are sent",
	"InvalidHeaders":      "TODO(kit): request headers outside the alphabet fail with Internal, not InvalidArgument",
	"InvalidReplyHeaders": "TODO(kit): invalid reply headers are not refused with Internal `reply header \"k\": ...`",
	"ReplyHeaderWritable": "TODO(kit): an upper-case key written to ReplyHeader fails the call with Internal",
	"DefaultDeadline":     "TODO(kit): a Call without a deadline gets none",
	"SendNoDeadline":      "TODO(kit): Send carries the sender's deadline",
	"StartAfterStop":      "TODO(kit): Start after Stop returns nil, not micro.ErrServerStopped",
}
