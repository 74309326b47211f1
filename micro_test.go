package micro_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNoTransportDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".", "./transport/inproc", "./transport/http").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, heavy := range []string{"google.golang.org/grpc", "github.com/nats-io/", "github.com/twmb/franz-go", "go.opentelemetry.io/"} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("the root package, inproc or http links %s", pkg)
			}
		}
	}
}

func TestCode(t *testing.T) {
	for code, want := range map[micro.Code]string{
		micro.OK: "OK", micro.NotFound: "NotFound", micro.Unauthenticated: "Unauthenticated", 17: "Code(17)",
	} {
		if got := code.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", code, got, want)
		}
	}
}

func TestError(t *testing.T) {
	cause := errors.New("disk full")
	e := micro.Errorf(micro.Unavailable, "store %s: %w", "users", cause)
	if got, want := e.Error(), "Unavailable: store users: disk full"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Error("errors.Is does not find the %w cause")
	}
	if !errors.Is(e, micro.ErrUnavailable) || errors.Is(e, micro.ErrNotFound) {
		t.Error("errors.Is against the sentinels does not match by code")
	}
	if !errors.Is(e, micro.NewError(micro.Unavailable, "store users: disk full")) ||
		errors.Is(e, micro.NewError(micro.Unavailable, "other")) {
		t.Error("errors.Is against an *Error with a message does not match by code and message")
	}
	if got := micro.NewError(micro.Internal, "").Error(); got != "Internal" {
		t.Errorf("Error() without a message = %q", got)
	}
}

func TestCodeOf(t *testing.T) {
	wrapped := fmt.Errorf("lookup: %w", micro.NewError(micro.NotFound, "no user 7"))
	for _, c := range []struct {
		err  error
		want micro.Code
	}{
		{nil, micro.OK},
		{errors.New("plain"), micro.Unknown},
		{context.Canceled, micro.Canceled},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), micro.DeadlineExceeded},
		{wrapped, micro.NotFound},
	} {
		if got := micro.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if e := transport.ErrorOf(wrapped); e.Code != micro.NotFound || e.Message != "no user 7" {
		t.Errorf("ErrorOf(wrapped) = %+v, want the wrapped *Error", e)
	}
	if e := transport.ErrorOf(errors.New("plain")); e.Code != micro.Unknown || e.Message != "plain" {
		t.Errorf("ErrorOf(plain) = %+v", e)
	}
	if transport.ErrorOf(nil) != nil {
		t.Error("ErrorOf(nil) != nil")
	}
}

func echo(_ context.Context, req []byte) ([]byte, error) { return req, nil }

func TestMuxHandlePanics(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", echo)
	for _, c := range []struct {
		name string
		f    func()
		want string
	}{
		{"bad namespace", func() { m.HandleFunc("greet.er", "hello", echo) }, `micro: invalid namespace "greet.er"`},
		{"empty service", func() { m.HandleFunc("greeter", "", echo) }, `micro: invalid service "" in route greeter.`},
		{"nil endpoint", func() { m.Handle("greeter", "x", nil) }, "micro: nil endpoint for route greeter.x"},
		{"nil func", func() { m.HandleFunc("greeter", "y", nil) }, "micro: nil endpoint for route greeter.y"},
		{"nil HandlerFunc", func() { m.Handle("greeter", "z", micro.HandlerFunc(nil)) }, "micro: nil endpoint for route greeter.z"},
		{"duplicate", func() { m.HandleFunc("greeter", "hello", echo) }, "micro: route greeter.hello registered twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if s, _ := p.(string); !strings.HasPrefix(s, c.want) {
					t.Fatalf("panic = %v, want it to start with %q", p, c.want)
				}
			}()
			c.f()
		})
	}
}

func TestMuxNotFound(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", echo)
	for _, c := range []struct{ ns, svc, msg string }{
		{"greeter", "bye", `no service "bye" in namespace "greeter"`},
		{"nope", "hello", `no namespace "nope"`},
	} {
		_, err := m.Serve(context.Background(), c.ns, c.svc, nil)
		var e *micro.Error
		if !errors.As(err, &e) || e.Code != micro.NotFound || e.Message != c.msg {
			t.Errorf("Serve(%s, %s) = %v, want NotFound %q", c.ns, c.svc, err, c.msg)
		}
	}
}

func TestMuxRecoversPanic(t *testing.T) {
	var logs bytes.Buffer
	m := micro.NewMux(micro.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	m.HandleFunc("svc", "boom", func(context.Context, []byte) ([]byte, error) { panic("secret detail") })
	_, err := m.Serve(context.Background(), "svc", "boom", nil)
	if micro.CodeOf(err) != micro.Internal || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Serve = %v, want Internal without the panic value", err)
	}
	if s := logs.String(); !strings.Contains(s, "secret detail") || !strings.Contains(s, "goroutine") {
		t.Fatalf("log lacks the panic and its stack:\n%s", s)
	}
}

func TestMuxDoneContext(t *testing.T) {
	m := micro.NewMux()
	ran := false
	m.HandleFunc("svc", "x", func(context.Context, []byte) ([]byte, error) { ran = true; return nil, nil })
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := m.Serve(ctx, "svc", "x", nil); micro.CodeOf(err) != micro.DeadlineExceeded || ran {
		t.Fatalf("Serve with an expired ctx = %v (handler ran: %v), want DeadlineExceeded without running", err, ran)
	}
}

func TestMuxUse(t *testing.T) {
	m := micro.NewMux()
	tag := func(s string) micro.Middleware {
		return func(next micro.Endpoint) micro.Endpoint {
			return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
				return next.Handle(ctx, append(req, s...))
			})
		}
	}
	m.HandleFunc("a", "before", echo)
	m.Use(tag("1"), tag("2"))
	m.HandleFunc("a", "after", echo)
	m.Use(tag("3"))
	for _, svc := range []string{"before", "after"} {
		if got, _ := m.Serve(context.Background(), "a", svc, nil); string(got) != "123" {
			t.Errorf("route a.%s: middleware ran as %q, want %q", svc, got, "123")
		}
	}
}

func TestMuxRoutes(t *testing.T) {
	m := micro.NewMux()
	for _, r := range []string{"b.y", "a.z", "b.x", "a.a"} {
		ns, svc, _ := strings.Cut(r, ".")
		m.HandleFunc(ns, svc, echo)
	}
	want := []micro.Route{{"a", "a"}, {"a", "z"}, {"b", "x"}, {"b", "y"}}
	if got := m.Routes(); !slices.Equal(got, want) {
		t.Errorf("Routes() = %v, want %v", got, want)
	}
	if got := m.Namespaces(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Namespaces() = %v", got)
	}
}

func TestMuxConcurrentRegistration(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("ns", "s0", echo)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i < 200; i++ {
			m.HandleFunc("ns", fmt.Sprintf("s%d", i), echo)
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				if _, err := m.Serve(context.Background(), "ns", "s0", nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(m.Routes()); n != 200 {
		t.Fatalf("%d routes after concurrent registration, want 200", n)
	}
}

func TestMuxServeAllocs(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", echo)
	req, ctx := []byte("x"), context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = m.Serve(ctx, "greeter", "hello", req) }); n != 0 {
		t.Fatalf("Serve allocates %v times per hit, want 0", n)
	}
}

func TestJSON(t *testing.T) {
	type in struct{ Name string }
	type out struct{ Message string }
	e := micro.JSON(func(_ context.Context, r in) (out, error) {
		if r.Name == "" {
			return out{}, micro.NewError(micro.InvalidArgument, "name is required")
		}
		return out{"Hello, " + r.Name + "!"}, nil
	})
	ctx := context.Background()
	if got, err := e.Handle(ctx, []byte(`{"Name":"Ann"}`)); err != nil || string(got) != `{"Message":"Hello, Ann!"}` {
		t.Errorf("Handle = %s, %v", got, err)
	}
	_, err := e.Handle(ctx, []byte(`{"Name":`))
	if e := transport.ErrorOf(err); e.Code != micro.InvalidArgument || !strings.Contains(e.Message, "unexpected end of JSON input") {
		t.Errorf("malformed JSON: %v, want InvalidArgument with the decode error", err)
	}
	if _, err := e.Handle(ctx, nil); transport.ErrorOf(err).Message != "name is required" {
		t.Errorf("empty request: %v, want the handler's error for the zero value", err)
	}
}

func TestHeaders(t *testing.T) {
	ctx := micro.WithHeader(context.Background(), "Trace-ID", "1")
	reply := micro.Header{}
	ctx = micro.WithReplyHeader(ctx, reply)
	ctx2 := micro.WithHeader(ctx, "b", "2")
	req, rh := transport.OutgoingHeader(ctx2)
	if len(req) != 2 || req["trace-id"] != "1" || req.Get("B") != "2" {
		t.Errorf("request headers = %v", req)
	}
	if rh == nil {
		t.Error("WithHeader dropped the reply Header")
	}
	if req, _ := transport.OutgoingHeader(ctx); len(req) != 1 {
		t.Errorf("WithHeader changed its parent's headers: %v", req)
	}
	var nilHeader micro.Header
	nilHeader.Set("k", "v") // must not panic
	if micro.RequestInfoFrom(context.Background()) == nil {
		t.Error("RequestInfoFrom without info returned nil")
	}
}

// server is a Server that records its lifecycle, for testing Service.Run.
type server struct {
	name      string
	startErr  error // returned by Start at once
	stopBlock bool  // Stop waits for its ctx
	stopWait  func(context.Context) error
	log       chan<- string // "stop <name>"
	ready     chan struct{}
	done      chan struct{}
	once      sync.Once
}

func newServer(name string, log chan<- string) *server {
	return &server{name: name, log: log, ready: make(chan struct{}), done: make(chan struct{})}
}

func (s *server) String() string         { return s.name }
func (s *server) Ready() <-chan struct{} { return s.ready }
func (s *server) Start(context.Context) error {
	if s.startErr != nil {
		return s.startErr
	}
	close(s.ready)
	<-s.done
	return nil
}
func (s *server) Stop(ctx context.Context) error {
	s.log <- "stop " + s.name
	s.once.Do(func() { close(s.done) })
	if s.stopBlock {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.stopWait != nil {
		return s.stopWait(ctx)
	}
	return nil
}

// TestServiceRunStopsTogether checks that Run stops every server at once:
// each Stop here returns only once all three have been called, which a
// Run that stops one after another never reaches within the timeout.
func TestServiceRunStopsTogether(t *testing.T) {
	log := make(chan string, 3)
	a, b, c := newServer("a", log), newServer("b", log), newServer("c", log)
	var all sync.WaitGroup
	all.Add(3)
	barrier := make(chan struct{})
	go func() { all.Wait(); close(barrier) }()
	for _, s := range []*server{a, b, c} {
		s.stopWait = func(ctx context.Context) error {
			all.Done()
			select {
			case <-barrier:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	svc := micro.NewService("test", micro.WithShutdownTimeout(10*time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, a, b, c) }()
	<-svc.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; the servers were not stopped together", err)
	}
	if err := svc.Run(t.Context()); !errors.Is(err, micro.ErrRunTwice) {
		t.Fatalf("second Run = %v, want ErrRunTwice", err)
	}
}

// connecting is a Server whose setup lasts until its Start ctx ends (then
// Start fails with ctx's error, as a dial does) or Stop is called (then
// Start returns nil, as the Server contract says).
type connecting struct {
	started chan struct{}
	stop    chan struct{}
	once    sync.Once
}

func (c *connecting) Start(ctx context.Context) error {
	close(c.started)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return nil
	}
}

func (c *connecting) Stop(context.Context) error {
	c.once.Do(func() { close(c.stop) })
	return nil
}

// TestServiceRunCancelledDuringStartup checks that a cancellation while a
// server still connects is a clean stop, every time.
func TestServiceRunCancelledDuringStartup(t *testing.T) {
	for range 50 {
		srv := &connecting{started: make(chan struct{}), stop: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- micro.NewService("test").Run(ctx, srv) }()
		<-srv.started
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run cancelled during startup = %v, want nil", err)
		}
	}
}

// TestServiceRunStartAfterStop checks the sentinel of a Server that was
// stopped before it started.
func TestServiceRunStartAfterStop(t *testing.T) {
	srv := inproc.NewServer(micro.NewMux())
	if err := srv.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after Stop = %v, want ErrServerStopped", err)
	}
}

func TestServiceRunFailure(t *testing.T) {
	log := make(chan string, 2)
	ok, bad := newServer("good", log), newServer("bad", log)
	bad.startErr = errors.New("address in use")
	err := micro.NewService("test").Run(t.Context(), ok, bad)
	if err == nil || !strings.Contains(err.Error(), "bad: address in use") {
		t.Fatalf("Run = %v, want the failing server named with its error", err)
	}
	if got := len(log); got != 2 {
		t.Fatalf("%d servers stopped after a failure, want 2", got)
	}
}

func TestServiceRunShutdownTimeout(t *testing.T) {
	log := make(chan string, 1)
	stuck := newServer("stuck", log)
	stuck.stopBlock = true
	svc := micro.NewService("test", micro.WithShutdownTimeout(50*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, stuck) }()
	<-svc.Ready()
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Run = %v, want the stuck server's deadline error", err)
	}
}

func TestServiceRunServes(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "echo", echo)
	srv := inproc.NewServer(m)
	svc := micro.NewService("greeter")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, srv) }()
	<-svc.Ready()
	c := inproc.NewClient(srv)
	if got, err := c.Call(t.Context(), "greeter", "echo", []byte("hi")); err != nil || string(got) != "hi" {
		t.Fatalf("Call = %q, %v", got, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := c.Call(t.Context(), "greeter", "echo", nil); micro.CodeOf(err) != micro.Unavailable {
		t.Fatalf("Call after Run returned = %v, want Unavailable", err)
	}
}

func TestZeroValues(t *testing.T) {
	var m micro.Mux
	if _, err := m.Serve(t.Context(), "a", "b", nil); micro.CodeOf(err) != micro.NotFound {
		t.Fatalf("zero Mux Serve = %v, want NotFound", err)
	}
	m.HandleFunc("a", "b", echo)
	m.HandleFunc("a", "panic", func(context.Context, []byte) ([]byte, error) { panic("boom") })
	if got, err := m.Serve(t.Context(), "a", "b", []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("zero Mux after Handle = %q, %v", got, err)
	}
	if _, err := m.Serve(t.Context(), "a", "panic", nil); micro.CodeOf(err) != micro.Internal {
		t.Fatalf("zero Mux panic = %v, want Internal", err)
	}

	var s micro.Service
	srv := inproc.NewServer(&m)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, srv) }()
	<-s.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("zero Service Run = %v", err)
	}
}

func TestMuxDuplicateSaysWhere(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("a", "b", echo) // the line the panic must name
	_, file, line, _ := runtime.Caller(0)
	first := fmt.Sprintf("%s:%d", file, line-1)
	defer func() {
		p := fmt.Sprint(recover())
		if !strings.Contains(p, "micro: route a.b registered twice") || !strings.Contains(p, first) {
			t.Fatalf("panic = %q, want it to name %s", p, first)
		}
	}()
	m.Handle("a", "b", micro.HandlerFunc(echo))
}
