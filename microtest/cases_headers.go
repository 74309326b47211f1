package microtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dancinggopher/micro"
)

// Headers proves that request headers reach the handler with lower-case
// keys and that reply headers reach the caller (unless
// Features.NoReplyHeaders).
func Headers(t *testing.T, tr Transport) {
	e := setup(t, tr, "Headers")
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "headers", func(ctx context.Context, _ []byte) ([]byte, error) {
			info := micro.RequestInfoFrom(ctx)
			for k := range info.Header {
				if k != strings.ToLower(k) {
					return nil, micro.Errorf(micro.Internal, "header key %q is not lower-case", k)
				}
			}
			info.ReplyHeader.Set("X-Reply", "r1")
			return []byte(info.Header["x-trace-id"] + "|" + info.Header.Get("Traceparent")), nil
		})
	})
	reply := micro.Header{}
	cx := micro.WithHeader(ctx(t), "X-Trace-Id", "abc")
	cx = micro.WithHeader(cx, "traceparent", traceparent)
	cx = micro.WithReplyHeader(cx, reply)
	if got, want := string(e.call(t, c, cx, "headers", nil)), "abc|"+traceparent; got != want {
		t.Fatalf("handler saw headers %q, want %q", got, want)
	}
	if e.tr.Features.NoReplyHeaders {
		if len(reply) != 0 {
			t.Fatalf("transport declares NoReplyHeaders but the reply carried %v", reply)
		}
		return
	}
	if got := reply.Get("x-reply"); got != "r1" {
		t.Fatalf("reply header x-reply = %q, want %q (all: %v)", got, "r1", reply)
	}
}

// headerSink registers "headers", which records the request headers it
// sees (a clone; nil for none) and counts its runs, and "sink", its one-way
// twin.
func (e *env) headerSink(seen chan<- micro.Header, ran *atomic.Int32) func(*micro.Mux) {
	return func(m *micro.Mux) {
		h := func(ctx context.Context, _ []byte) ([]byte, error) {
			ran.Add(1)
			seen <- maps.Clone(micro.RequestInfoFrom(ctx).Header)
			return []byte("ok"), nil
		}
		m.HandleFunc(e.ns, "headers", h)
		m.HandleFunc(e.ns, "sink", h)
	}
}

// withHeaders returns ctx carrying h.
func withHeaders(ctx context.Context, h micro.Header) context.Context {
	for k, v := range h {
		ctx = micro.WithHeader(ctx, k, v)
	}
	return ctx
}

// ValidHeaders proves that headers at the edges of the alphabet reach the
// handler exactly, and nothing else does: a 128-byte key, a 4096-byte
// value, every printable byte, an empty value, keys that merely look like
// reserved ones, and 64 headers at once.
func ValidHeaders(t *testing.T, tr Transport) {
	e := setup(t, tr, "ValidHeaders")
	var all strings.Builder
	for b := byte(0x20); b <= 0x7e; b++ {
		all.WriteByte(b)
	}
	long := strings.Repeat("v a%:", 4096/5+1)[:4095] + "z"
	many := micro.Header{}
	for i := range 64 {
		many[fmt.Sprintf("h%02d", i)] = fmt.Sprint(i)
	}
	sets := []struct {
		name string
		send micro.Header
		want micro.Header
	}{
		{"edges", micro.Header{
			strings.Repeat("k", 128): "128", "x-long": long, "x-all": "<" + all.String() + ">",
			"x-empty": "", "a.b_c-9": "inner space", "Upper-Case": "U",
		}, micro.Header{
			strings.Repeat("k", 128): "128", "x-long": long, "x-all": "<" + all.String() + ">",
			"x-empty": "", "a.b_c-9": "inner space", "upper-case": "U",
		}},
		{"look-alikes", micro.Header{
			"micro": "1", "microservice": "1", "x-micro-id": "1", "grpc": "1", "natsy": "1",
			"content-typed": "1", "hostname": "1", "te-x": "1", "x-bin-y": "1", "bin": "1",
		}, nil},
		{"64 headers", many, nil},
	}
	seen := make(chan micro.Header, len(sets))
	var ran atomic.Int32
	_, c := e.start(t, e.headerSink(seen, &ran))
	for _, s := range sets {
		if s.want == nil {
			s.want = s.send
		}
		if _, err := c.Call(withHeaders(ctx(t), s.send), e.ns, "headers", nil); err != nil {
			t.Errorf("%s: Call: %v", s.name, err)
			continue
		}
		if got := wait(t, seen, Timeout, "Call handled"); !maps.Equal(got, s.want) {
			t.Errorf("%s: the handler saw %d headers %s, want %d: %s", s.name, len(got), diff(got, s.want), len(s.want), diff(s.want, got))
		}
	}
}

// diff lists the entries of a that b lacks or holds otherwise.
func diff(a, b micro.Header) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			d = append(d, fmt.Sprintf("%q=%q", clip(k), clip(v)))
		}
	}
	return "[" + strings.Join(d, " ") + "]"
}

// StatusHeaders proves that "status" and "description", which NATS uses for
// its status line, are ordinary headers both ways.
func StatusHeaders(t *testing.T, tr Transport) {
	e := setup(t, tr, "StatusHeaders")
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "status", func(ctx context.Context, _ []byte) ([]byte, error) {
			info := micro.RequestInfoFrom(ctx)
			info.ReplyHeader.Set("status", "404")
			info.ReplyHeader.Set("description", "No Responders")
			return []byte(info.Header["status"] + "|" + info.Header["description"]), nil
		})
	})
	reply := micro.Header{}
	cx := micro.WithHeader(ctx(t), "Status", "503")
	cx = micro.WithHeader(cx, "description", "No Responders")
	if got := string(e.call(t, c, micro.WithReplyHeader(cx, reply), "status", []byte("x"))); got != "503|No Responders" {
		t.Fatalf("the handler saw status|description = %q, want %q", got, "503|No Responders")
	}
	if e.tr.Features.NoReplyHeaders {
		return
	}
	if reply["status"] != "404" || reply["description"] != "No Responders" {
		t.Fatalf("reply headers = %v, want status 404 and description %q", reply, "No Responders")
	}
}

// refused calls and sends with each header and checks that both return
// InvalidArgument naming the key (if key is not empty), and that the
// handler never ran.
func (e *env) refused(t *testing.T, headers []micro.Header) {
	seen := make(chan micro.Header, 2*len(headers)+2)
	var ran atomic.Int32
	_, c := e.start(t, e.headerSink(seen, &ran))
	for _, h := range headers {
		name := ""
		if len(h) == 1 {
			for k := range h {
				name = fmt.Sprintf("%q", strings.ToLower(k))
			}
		}
		what := fmt.Sprintf("%d headers", len(h))
		if name != "" {
			what = "header " + clip(name)
		}
		_, err := c.Call(withHeaders(ctx(t), h), e.ns, "headers", nil)
		if d := refusal(err, name); d != "" {
			t.Errorf("Call with %s: %s", what, d)
		}
		err = c.Send(withHeaders(ctx(t), h), e.ns, "sink", nil)
		if d := refusal(err, name); d != "" {
			t.Errorf("Send with %s: %s", what, d)
		}
	}
	// A message sent after the refused ones runs after them on most media;
	// any that slipped through have then run too.
	e.call(t, c, ctx(t), "headers", nil)
	if err := c.Send(ctx(t), e.ns, "sink", nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	wait(t, seen, Timeout, "Call handled")
	wait(t, seen, Timeout, "message sent handled")
	if n := ran.Load() - 2; n != 0 {
		t.Errorf("the handler ran for %d refused messages", n)
	}
}

// refusal describes how err is not an InvalidArgument naming name.
func refusal(err error, name string) string {
	var e *micro.Error
	switch {
	case !errors.As(err, &e) || e == nil:
		return fmt.Sprintf("error = %v (%T), want InvalidArgument", err, err)
	case e.Code != micro.InvalidArgument:
		return fmt.Sprintf("got %v %q, want InvalidArgument", e.Code, clip(e.Message))
	case !strings.Contains(e.Message, name):
		return fmt.Sprintf("message %q does not name the key %s", clip(e.Message), name)
	}
	return ""
}

// reserved are request header keys no caller may set.
var reserved = []string{
	"micro-service", "Micro-Deadline", "micro-x", "nats-foo", "Nats-Service-Error", "nats-expected-stream",
	"grpc-timeout", "GRPC-Status", "connect-timeout-ms", ":authority", ":path",
	"Content-Length", "content-encoding", "accept-encoding", "connection", "keep-alive",
	"proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding",
	"upgrade", "HOST", "user-agent",
}

// ReservedHeaders proves that a request header with a reserved key (the
// transports' own prefixes and the hop-by-hop names, in any case) is
// refused by Call and Send with InvalidArgument naming the key, before
// anything is sent: the handler does not run.
func ReservedHeaders(t *testing.T, tr Transport) {
	e := setup(t, tr, "ReservedHeaders")
	var hs []micro.Header
	for _, k := range reserved {
		hs = append(hs, micro.Header{k: "v"})
	}
	e.refused(t, hs)
}

// InvalidHeaders proves that a request header outside the alphabet (a key
// not 1-128 bytes of [a-z0-9._-] or ending in -bin; a value over 4096 bytes,
// with a byte outside 0x20-0x7E, or a leading or trailing space) and more
// than 64 headers are refused by Call and Send with InvalidArgument, before
// anything is sent.
func InvalidHeaders(t *testing.T, tr Transport) {
	e := setup(t, tr, "InvalidHeaders")
	hs := []micro.Header{
		{"x y": "v"}, {"x/y": "v"}, {"x:y": "v"}, {"é": "v"}, {"": "v"}, {strings.Repeat("k", 129): "v"},
		{"x-bin": "v"}, {"X-Bin": "v"},
		{"x": "a\nb"}, {"x": "a\rb"}, {"x": "nul\x00"}, {"x": "del\x7f"}, {"x": "tab\t"}, {"x": "é"},
		{"x": " leading"}, {"x": "trailing "}, {"x": " "}, {"x": strings.Repeat("v", 4097)},
	}
	many := micro.Header{}
	for i := range 65 {
		many[fmt.Sprintf("h%02d", i)] = "v"
	}
	e.refused(t, append(hs, many))
}

// badReplyHeaders are reply headers a handler may not set.
var badReplyHeaders = []micro.Header{
	{"micro-error-code": "5"}, {"Nats-Service-Error": "x"}, {"grpc-status": "0"}, {"content-length": "1"},
	{"bad key": "v"}, {"x-bin": "v"}, {strings.Repeat("k", 129): "v"},
	{"x": "a\nb"}, {"x": " leading"}, {"x": "é"}, {"x": strings.Repeat("v", 4097)},
}

// InvalidReplyHeaders proves that a reply header that is reserved or
// outside the alphabet fails the Call with Internal, message
// `reply header "k": ...`, and no reply body, whether or not the caller
// asked for reply headers.
func InvalidReplyHeaders(t *testing.T, tr Transport) {
	e := setup(t, tr, "InvalidReplyHeaders")
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "reply", func(ctx context.Context, req []byte) ([]byte, error) {
			var i int
			if _, err := fmt.Sscan(string(req), &i); err != nil || i < 0 || i >= len(badReplyHeaders) {
				return nil, micro.Errorf(micro.InvalidArgument, "no header %q", req)
			}
			maps.Copy(micro.RequestInfoFrom(ctx).ReplyHeader, badReplyHeaders[i])
			return []byte("body"), nil
		})
	})
	for i, h := range badReplyHeaders {
		var k string
		for k = range h {
		}
		prefix := fmt.Sprintf("reply header %q", strings.ToLower(k))
		for _, ask := range []bool{false, true} {
			cx := ctx(t)
			if ask {
				cx = micro.WithReplyHeader(cx, micro.Header{})
			}
			resp, err := c.Call(cx, e.ns, "reply", []byte(fmt.Sprint(i)))
			var me *micro.Error
			switch {
			case !errors.As(err, &me) || me == nil || me.Code != micro.Internal:
				t.Errorf("reply header %s (caller asks: %v): Call = %q, %v; want Internal", clip(k), ask, resp, err)
			case !strings.HasPrefix(me.Message, prefix):
				t.Errorf("reply header %s: message %q, want it to start %s", clip(k), clip(me.Message), clip(prefix))
			case resp != nil:
				t.Errorf("reply header %s: the body %q was delivered with the error", clip(k), resp)
			}
		}
	}
}

// ReplyHeaderWritable proves that a handler's ReplyHeader is a non-nil map
// it can write to directly, on Call (whether or not the caller asked for
// reply headers) and on Send, and that a key so written reaches the caller
// lower-cased (unless Features.NoReplyHeaders).
func ReplyHeaderWritable(t *testing.T, tr Transport) {
	e := setup(t, tr, "ReplyHeaderWritable")
	sent := make(chan error, 1)
	write := func(ctx context.Context) error {
		h := micro.RequestInfoFrom(ctx).ReplyHeader
		if h == nil {
			return errors.New("RequestInfo.ReplyHeader is nil")
		}
		h["x-direct"] = "d"
		h["X-Upper"] = "u"
		return nil
	}
	_, c := e.start(t, func(m *micro.Mux) {
		m.HandleFunc(e.ns, "write", func(ctx context.Context, _ []byte) ([]byte, error) {
			if err := write(ctx); err != nil {
				return nil, micro.NewError(micro.FailedPrecondition, err.Error())
			}
			return []byte("ok"), nil
		})
		m.HandleFunc(e.ns, "sink", func(ctx context.Context, _ []byte) ([]byte, error) {
			sent <- write(ctx)
			return nil, nil
		})
	})
	if _, err := c.Call(ctx(t), e.ns, "write", nil); err != nil {
		t.Errorf("Call without reply headers asked for: %v", err)
	}
	reply := micro.Header{}
	if _, err := c.Call(micro.WithReplyHeader(ctx(t), reply), e.ns, "write", nil); err != nil {
		t.Errorf("Call: %v", err)
	} else if want := (micro.Header{"x-direct": "d", "x-upper": "u"}); !e.tr.Features.NoReplyHeaders && !maps.Equal(reply, want) {
		t.Errorf("reply headers = %v, want %v", reply, want)
	}
	if err := c.Send(ctx(t), e.ns, "sink", nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := wait(t, sent, Timeout, "message sent handled"); err != nil {
		t.Errorf("Send: %v", err)
	}
}
