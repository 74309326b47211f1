// Package microtest is the conformance suite of micro transports. Run calls
// one battery of behaviour tests against a transport's Server and Client:
// every transport in this module passes it, and a third-party transport
// proves itself with it. The inproc transport is the reference: where this
// suite and inproc agree, that is the spec.
//
// Every case is an exported function of the form
//
//	func RoundTrip(t *testing.T, tr Transport)
//
// that calls t.Parallel and serves its routes under a namespace of its own,
// derived from t.Name(), so cases share nothing and a case can be run alone
// (go test -run TestConformance/RoundTrip, or a call from a test of your
// own that has not called t.Parallel itself). Run runs them all as subtests
// named after the functions; Stress runs the battery several times at once.
// Transport.Skip skips cases by name.
package microtest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// Transport describes the transport under test.
type Transport struct {
	// New returns a started Server serving mux and a Client connected to it.
	// It registers with t.Cleanup whatever must be released (Stop is safe to
	// call again). Each case calls New once with its own Mux, concurrently
	// with other cases.
	New func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client)

	// MaxMessageSize is the request and reply size limit the server and
	// client were configured with; 0 means micro.DefaultMaxMessageSize.
	MaxMessageSize int

	// Features declares what the transport's medium cannot do.
	Features Features

	// Skip maps the name of a case (its function's name, "RoundTrip") to
	// the reason it is skipped; the case then reports the reason with
	// t.Skip. It is for a transport that does not meet a case yet: say why,
	// and when that will change.
	Skip map[string]string
}

// Features declares a transport's gaps. The zero value claims everything;
// each field documents the behaviour the suite then expects instead.
type Features struct {
	// NoReplyHeaders: the reply cannot carry headers, so what a handler
	// writes to its ReplyHeader is discarded and the caller's reply Header
	// stays empty. ReplyHeader is still a non-nil, writable map.
	NoReplyHeaders bool

	// CallAfterStop is the code of a Call made after Stop, where the medium
	// cannot refuse it (on Kafka a request is queued in a topic and no one
	// answers: DeadlineExceeded). Zero means Unavailable.
	CallAfterStop micro.Code

	// UnknownNamespace is the code of a Call to a namespace no server serves,
	// where the medium cannot tell that apart from a stopped server. Zero
	// means NotFound.
	UnknownNamespace micro.Code

	// NoCancel: the medium has no signal for a caller's cancellation (NATS,
	// Kafka), so the handler's ctx is not cancelled when the caller gives
	// up before its deadline. The caller still gets Canceled at once.
	NoCancel bool
}

// Timeout bounds every call the suite makes; a call that hangs fails its
// test with DeadlineExceeded rather than hanging the run.
const Timeout = 20 * time.Second

// grace bounds how long the suite waits for something that should follow
// at once (a handler's ctx cancelled after it returned, Start refusing to
// run again), so that a fault fails its case well before Timeout.
const grace = 5 * time.Second

// defaultCallTimeout is the bound of a Call whose ctx has no deadline.
const defaultCallTimeout = micro.DefaultCallTimeout

// maxErrorMessage is the longest error message, in bytes, that crosses a
// wire; a longer one is cut at a rune boundary.
const maxErrorMessage = 16 << 10

// battery lists every case in the order Run starts them.
var battery = []struct {
	name string
	f    func(*testing.T, Transport)
}{
	{"RoundTrip", RoundTrip},
	{"EmptyRequest", EmptyRequest},
	{"NilBody", NilBody},
	{"UnknownService", UnknownService},
	{"UnknownNamespace", UnknownNamespace},
	{"InvalidName", InvalidName},
	{"SendInvalidName", SendInvalidName},
	{"ErrorCodes", ErrorCodes},
	{"PlainError", PlainError},
	{"NilError", NilError},
	{"UnknownCodes", UnknownCodes},
	{"ErrorMessages", ErrorMessages},
	{"InvalidUTF8Message", InvalidUTF8Message},
	{"LongMessage", LongMessage},
	{"Headers", Headers},
	{"ValidHeaders", ValidHeaders},
	{"StatusHeaders", StatusHeaders},
	{"ReservedHeaders", ReservedHeaders},
	{"InvalidHeaders", InvalidHeaders},
	{"InvalidReplyHeaders", InvalidReplyHeaders},
	{"ReplyHeaderWritable", ReplyHeaderWritable},
	{"RequestInfo", RequestInfo},
	{"Deadline", Deadline},
	{"ExpiredDeadline", ExpiredDeadline},
	{"DefaultDeadline", DefaultDeadline},
	{"LongDeadline", LongDeadline},
	{"SendNoDeadline", SendNoDeadline},
	{"CancelAfterReturn", CancelAfterReturn},
	{"CallerCancel", CallerCancel},
	{"Panic", Panic},
	{"Concurrent", Concurrent},
	{"SizeLimit", SizeLimit},
	{"ReplySizeLimit", ReplySizeLimit},
	{"Send", Send},
	{"StopDrains", StopDrains},
	{"StopDeadline", StopDeadline},
	{"CallAfterStop", CallAfterStop},
	{"StopTwice", StopTwice},
	{"StartAfterStop", StartAfterStop},
	{"StartTwice", StartTwice},
}

// Run runs the whole battery as parallel subtests of t, each named after
// its case's function. It returns once they all finished.
func Run(t *testing.T, tr Transport) {
	t.Helper()
	checkSkip(t, tr)
	for _, c := range battery {
		t.Run(c.name, func(t *testing.T) { c.f(t, tr) })
	}
}

// Stress runs the whole battery n times at once, as parallel subtests of t
// named "0" to n-1, each case on its own namespace, so that a transport's
// races and shared state show up under load (and under -race). All n*len
// cases run concurrently, bounded by go test's -parallel flag (GOMAXPROCS
// by default). It costs n times what Run costs: keep n small (2 to 4) in
// the default test run, and raise it by hand when chasing a flake. n < 1
// means 1.
func Stress(t *testing.T, tr Transport, n int) {
	t.Helper()
	for i := range max(n, 1) {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			Run(t, tr)
		})
	}
}

// Names returns the names of the cases Run runs, in its order: the keys
// Transport.Skip takes.
func Names() []string {
	names := make([]string, len(battery))
	for i, c := range battery {
		names[i] = c.name
	}
	return names
}

// checkSkip fails t if tr.Skip names a case that does not exist, so that a
// skip outlives no rename.
func checkSkip(t *testing.T, tr Transport) {
	t.Helper()
	for name := range tr.Skip {
		if !slices.Contains(Names(), name) {
			t.Errorf("microtest: Transport.Skip names no case: %q", name)
		}
	}
}

// env is one case's view of the transport under test.
type env struct {
	tr Transport
	ns string // the case's own namespace
}

// setup skips t if tr.Skip names the case, marks t parallel, fills in the
// defaults of tr and picks the case's namespace.
func setup(t *testing.T, tr Transport, name string) *env {
	t.Helper()
	if reason, ok := tr.Skip[name]; ok {
		t.Skip(reason)
	}
	t.Parallel()
	if tr.New == nil {
		t.Fatal("microtest: Transport.New is nil")
	}
	if tr.MaxMessageSize == 0 {
		tr.MaxMessageSize = micro.DefaultMaxMessageSize
	}
	if tr.Features.CallAfterStop == micro.OK {
		tr.Features.CallAfterStop = micro.Unavailable
	}
	if tr.Features.UnknownNamespace == micro.OK {
		tr.Features.UnknownNamespace = micro.NotFound
	}
	return &env{tr: tr, ns: namespace(t.Name())}
}

// namespace turns a test name into a valid name of its own: lower-case,
// every byte outside [a-z0-9_-] replaced by '-'. Test names are unique in a
// process, so concurrent cases (and concurrent runs of one case under
// Stress) never share a route.
func namespace(testName string) string {
	b := []byte(strings.ToLower(testName))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// start builds a Mux with an "echo" route and the routes register adds, and
// serves it with the transport under test.
func (e *env) start(t *testing.T, register func(m *micro.Mux)) (micro.Server, micro.Client) {
	t.Helper()
	m := micro.NewMux()
	m.HandleFunc(e.ns, "echo", func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("echo:"), req...), nil
	})
	if register != nil {
		register(m)
	}
	return e.tr.New(t, m)
}

// call calls service in the case's namespace and fails t on an error.
func (e *env) call(t *testing.T, c micro.Client, ctx context.Context, service string, req []byte) []byte {
	t.Helper()
	resp, err := c.Call(ctx, e.ns, service, req)
	if err != nil {
		t.Fatalf("Call %s.%s: %v", e.ns, service, err)
	}
	return resp
}

// ctx returns a context bounded by Timeout and by the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return c
}

// wait fails t unless ch yields within d, and returns what it yields.
func wait[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: not within %v", what, d)
	}
	panic("unreachable")
}
