package microtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dancinggopher/micro"
)

// RoundTrip proves that a request reaches its handler and the handler's
// reply comes back unchanged.
func RoundTrip(t *testing.T, tr Transport) {
	e := setup(t, tr, "RoundTrip")
	_, c := e.start(t, nil)
	if got := string(e.call(t, c, ctx(t), "echo", []byte("hello"))); got != "echo:hello" {
		t.Fatalf("reply = %q, want %q", got, "echo:hello")
	}
}

// EmptyRequest proves that an empty request reaches its handler with
// length 0 and an empty reply comes back with length 0.
func EmptyRequest(t *testing.T, tr Transport) {
	e := setup(t, tr, "EmptyRequest")
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "len", func(_ context.Context, req []byte) ([]byte, error) {
			return []byte(strconv.Itoa(len(req))), nil
		})
		m.HandleFunc(e.ns, "nothing", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	})
	if got := string(e.call(t, c, ctx(t), "len", nil)); got != "0" {
		t.Fatalf("handler saw %q bytes, want 0", got)
	}
	if got := e.call(t, c, ctx(t), "nothing", []byte("x")); len(got) != 0 {
		t.Fatalf("empty reply arrived as %q", got)
	}
}

// NilBody proves that a zero-length body arrives as nil, whether it was
// sent as nil or as []byte{}: requests of Call and Send at the handler,
// replies at the caller.
func NilBody(t *testing.T, tr Transport) {
	e := setup(t, tr, "NilBody")
	sent := make(chan string, 2)
	describe := func(b []byte) string {
		if b == nil {
			return "nil"
		}
		return fmt.Sprintf("non-nil %d bytes", len(b))
	}
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "req", func(_ context.Context, req []byte) ([]byte, error) {
			return []byte(describe(req)), nil
		})
		m.HandleFunc(e.ns, "sink", func(_ context.Context, req []byte) ([]byte, error) {
			sent <- describe(req)
			return nil, nil
		})
		m.HandleFunc(e.ns, "nil", func(context.Context, []byte) ([]byte, error) { return nil, nil })
		m.HandleFunc(e.ns, "empty", func(context.Context, []byte) ([]byte, error) { return []byte{}, nil })
	})
	for _, req := range [][]byte{nil, {}} {
		if got := string(e.call(t, c, ctx(t), "req", req)); got != "nil" {
			t.Errorf("Call with a %s request: the handler saw a %s request, want nil", describe(req), got)
		}
		if err := c.Send(ctx(t), e.ns, "sink", req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := wait(t, sent, Timeout, "message sent handled"); got != "nil" {
			t.Errorf("Send with a %s message: the handler saw a %s message, want nil", describe(req), got)
		}
	}
	for _, svc := range []string{"nil", "empty"} {
		if got := e.call(t, c, ctx(t), svc, []byte("x")); got != nil {
			t.Errorf("a handler's %s reply arrived as %s (%#v), want nil", svc, describe(got), got)
		}
	}
}

// UnknownService proves that a Call to a service its namespace does not
// have is answered NotFound.
func UnknownService(t *testing.T, tr Transport) {
	e := setup(t, tr, "UnknownService")
	_, c := e.start(t, nil)
	_, err := c.Call(ctx(t), e.ns, "nope", []byte("x"))
	wantCode(t, err, micro.NotFound, "")
}

// UnknownNamespace proves that a Call to a namespace no server serves is
// answered NotFound, or Features.UnknownNamespace.
func UnknownNamespace(t *testing.T, tr Transport) {
	e := setup(t, tr, "UnknownNamespace")
	_, c := e.start(t, nil)
	_, err := c.Call(ctx(t), e.ns+"-nope", "echo", []byte("x"))
	wantCode(t, err, e.tr.Features.UnknownNamespace, "")
}

// invalidRoutes are routes outside [A-Za-z0-9_-]+.
func (e *env) invalidRoutes() []micro.Route {
	return []micro.Route{
		{Namespace: e.ns + ".x", Service: "echo"},
		{Namespace: e.ns, Service: "ec ho"},
		{Namespace: e.ns, Service: ""},
	}
}

// InvalidName proves that a Call to a malformed namespace or service is
// answered InvalidArgument.
func InvalidName(t *testing.T, tr Transport) {
	e := setup(t, tr, "InvalidName")
	_, c := e.start(t, nil)
	for _, r := range e.invalidRoutes() {
		_, err := c.Call(ctx(t), r.Namespace, r.Service, []byte("x"))
		wantCode(t, err, micro.InvalidArgument, "")
	}
}

// SendInvalidName proves that a Send to a malformed namespace or service
// returns InvalidArgument.
func SendInvalidName(t *testing.T, tr Transport) {
	e := setup(t, tr, "SendInvalidName")
	_, c := e.start(t, nil)
	for _, r := range append(e.invalidRoutes(), micro.Route{Namespace: "", Service: "echo"}) {
		err := c.Send(ctx(t), r.Namespace, r.Service, []byte("x"))
		wantCode(t, err, micro.InvalidArgument, "")
	}
}

// RequestInfo proves that a handler's RequestInfo names its namespace,
// service and transport.
func RequestInfo(t *testing.T, tr Transport) {
	e := setup(t, tr, "RequestInfo")
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "info", func(ctx context.Context, _ []byte) ([]byte, error) {
			i := micro.RequestInfoFrom(ctx)
			return []byte(i.Namespace + "|" + i.Service + "|" + i.Transport), nil
		})
	})
	parts := strings.Split(string(e.call(t, c, ctx(t), "info", nil)), "|")
	if len(parts) != 3 || parts[0] != e.ns || parts[1] != "info" || parts[2] == "" {
		t.Fatalf("RequestInfo = %q, want namespace %q, service %q and a transport name", parts, e.ns, "info")
	}
}

// Panic proves that a handler's panic is answered Internal, without its
// stack, and that the server keeps serving.
func Panic(t *testing.T, tr Transport) {
	e := setup(t, tr, "Panic")
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "panic", func(context.Context, []byte) ([]byte, error) { panic("boom") })
	})
	for range 2 {
		_, err := c.Call(ctx(t), e.ns, "panic", nil)
		wantCode(t, err, micro.Internal, "")
		if strings.Contains(err.Error(), "goroutine") {
			t.Fatalf("panic stack reached the caller: %v", err)
		}
		if got := string(e.call(t, c, ctx(t), "echo", []byte("after"))); got != "echo:after" {
			t.Fatalf("after a panic, reply = %q", got)
		}
	}
}

// Concurrent proves that 200 concurrent Calls each get their own reply.
func Concurrent(t *testing.T, tr Transport) {
	e := setup(t, tr, "Concurrent")
	_, c := e.start(t, nil)
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := "req-" + strconv.Itoa(i)
			resp, err := c.Call(ctx(t), e.ns, "echo", []byte(req))
			if err == nil && string(resp) != "echo:"+req {
				err = fmt.Errorf("call %d: reply %q, want %q", i, resp, "echo:"+req)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// randomBytes returns n incompressible bytes, so that no transport's
// compression hides the size limit.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// SizeLimit proves that a request of MaxMessageSize bytes round-trips and
// one byte more is answered ResourceExhausted, after which the server
// keeps serving.
func SizeLimit(t *testing.T, tr Transport) {
	e := setup(t, tr, "SizeLimit")
	limit := e.tr.MaxMessageSize
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "raw", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	})
	at := randomBytes(limit)
	resp := e.call(t, c, ctx(t), "raw", at)
	if len(resp) != limit || string(resp) != string(at) {
		t.Fatalf("payload of %d bytes (the limit) came back as %d different bytes", limit, len(resp))
	}
	_, err := c.Call(ctx(t), e.ns, "raw", randomBytes(limit+1))
	wantCode(t, err, micro.ResourceExhausted, "")
	if got := string(e.call(t, c, ctx(t), "echo", []byte("x"))); got != "echo:x" {
		t.Fatalf("after an oversized request, reply = %q", got)
	}
}

// ReplySizeLimit proves that a reply over MaxMessageSize is answered
// ResourceExhausted.
func ReplySizeLimit(t *testing.T, tr Transport) {
	e := setup(t, tr, "ReplySizeLimit")
	limit := e.tr.MaxMessageSize
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "big", func(context.Context, []byte) ([]byte, error) { return randomBytes(limit + 1), nil })
	})
	_, err := c.Call(ctx(t), e.ns, "big", nil)
	wantCode(t, err, micro.ResourceExhausted, "")
}

// Send proves that a one-way message reaches its handler with its body and
// headers.
func Send(t *testing.T, tr Transport) {
	e := setup(t, tr, "Send")
	type msg struct{ body, header string }
	got := make(chan msg, 1)
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "sink", func(ctx context.Context, req []byte) ([]byte, error) {
			got <- msg{string(req), micro.RequestInfoFrom(ctx).Header.Get("x-id")}
			return nil, nil
		})
	})
	if err := c.Send(micro.WithHeader(ctx(t), "X-Id", "7"), e.ns, "sink", []byte("one-way")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if m := wait(t, got, Timeout, "message sent handled"); m != (msg{"one-way", "7"}) {
		t.Fatalf("handler got %+v, want body %q and header x-id %q", m, "one-way", "7")
	}
}
