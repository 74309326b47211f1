package transport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

func TestCheckHeader(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"x-id", "7", true},
		{"X-Id", "7", true},
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"status", "ok", true},
		{"a.b_c-d", "", true},
		{"x y", "1", false},
		{"", "1", false},
		{strings.Repeat("k", 129), "1", false},
		{"key-bin", "1", false},
		{"micro-service", "x", false},
		{"Micro-Deadline", "1", false},
		{"nats-service-error", "x", false},
		{"grpc-timeout", "1S", false},
		{"connect-timeout-ms", "1", false},
		{"content-type", "application/json", true},
		{"content-length", "7", false},
		{"te", "trailers", false},
		{"x", " lead", false},
		{"x", "trail ", false},
		{"x", "new\nline", false},
		{"x", "héllo", false},
		{"x", strings.Repeat("v", 4097), false},
		{"x", strings.Repeat("v", 4096), true},
	} {
		err := transport.CheckHeader(c.key, c.value)
		if (err == nil) != c.ok {
			t.Errorf("CheckHeader(%q, %q) = %v, want ok=%v", c.key, c.value, err, c.ok)
		}
		if err != nil && (micro.CodeOf(err) != micro.InvalidArgument || !strings.Contains(err.Error(), strings.ToLower(c.key))) {
			t.Errorf("CheckHeader(%q) = %v, want InvalidArgument naming the key", c.key, err)
		}
	}
}

func TestHeaderReader(t *testing.T) {
	var r transport.HeaderReader
	r.Add("X-Id", "1")
	r.Add("x-id", "2")
	r.Add("micro-service", "evil")
	r.Add("bad key", "v")
	r.Add("v", "bad\nvalue")
	r.Add("Status", "kept")
	h := r.Header()
	if len(h) != 2 || h["x-id"] != "1,2" || h["status"] != "kept" {
		t.Fatalf("headers = %v, want x-id 1,2 and status kept", h)
	}
	var empty transport.HeaderReader
	if empty.Header() != nil {
		t.Fatal("no headers must read as nil")
	}
}

func TestErrorOf(t *testing.T) {
	var typedNil *micro.Error
	for _, c := range []struct {
		err  error
		code micro.Code
		msg  string
	}{
		{micro.NewError(micro.NotFound, "no user"), micro.NotFound, "no user"},
		{micro.NewError(micro.OK, "ok?"), micro.Unknown, "ok?"},
		{micro.NewError(17, "seventeen"), micro.Unknown, "seventeen"},
		{errors.New("plain"), micro.Unknown, "plain"},
		{context.DeadlineExceeded, micro.DeadlineExceeded, "context deadline exceeded"},
		{micro.NewError(micro.Internal, "bad \xff byte"), micro.Internal, "bad \uFFFD byte"},
	} {
		e := transport.ErrorOf(c.err)
		if e.Code != c.code || e.Message != c.msg || e.Unwrap() != nil {
			t.Errorf("ErrorOf(%v) = %v %q, want %v %q and no cause", c.err, e.Code, e.Message, c.code, c.msg)
		}
	}
	if transport.ErrorOf(typedNil) != nil || transport.ErrorOf(error(typedNil)) != nil {
		t.Error("a typed nil *micro.Error is an error")
	}
	long := strings.Repeat("é", transport.MaxErrorMessage) // 2 bytes a rune
	if m := transport.ErrorOf(errors.New(long)).Message; len(m) != transport.MaxErrorMessage || !strings.HasPrefix(long, m) {
		t.Errorf("a long message was cut to %d bytes, want %d on a rune boundary", len(m), transport.MaxErrorMessage)
	}
}

func TestParseError(t *testing.T) {
	for _, c := range []struct {
		code, msg string
		want      micro.Code
		wantMsg   string
	}{
		{"5", "no user", micro.NotFound, "no user"},
		{"500", "boom", micro.Unknown, "500: boom"},
		{"0", "zero", micro.Unknown, "0: zero"},
		{"abc", "x", micro.Unknown, "abc: x"},
		{"17", "x", micro.Unknown, "17: x"},
	} {
		if e := transport.ParseError(c.code, c.msg); e.Code != c.want || e.Message != c.wantMsg {
			t.Errorf("ParseError(%q, %q) = %v %q, want %v %q", c.code, c.msg, e.Code, e.Message, c.want, c.wantMsg)
		}
	}
}

func TestEscapeValue(t *testing.T) {
	for _, s := range []string{"", "plain message", "100% sure", "%41", "a\nb\r\n", " lead", "trail ", "\x00\x7f", "héllo", strings.Repeat("x:y ", 2500)} {
		enc := transport.EscapeValue(s)
		if strings.ContainsAny(enc, "\r\n\x00\x7f") || strings.HasPrefix(enc, " ") || strings.HasSuffix(enc, " ") {
			t.Errorf("EscapeValue(%q) = %q still has bytes a header cannot carry", s, enc)
		}
		if got := transport.UnescapeValue(enc); got != s {
			t.Errorf("UnescapeValue(EscapeValue(%q)) = %q", s, got)
		}
	}
	if got := transport.EscapeValue("not found"); got != "not found" {
		t.Errorf("an ordinary message was changed to %q", got)
	}
	if got := transport.UnescapeValue("100% sure %zz %4"); got != "100% sure %zz %4" {
		t.Errorf("a foreign '%%' was decoded: %q", got)
	}
}

func FuzzEscapeValue(f *testing.F) {
	f.Add("a\nb %41 %")
	f.Fuzz(func(t *testing.T, s string) {
		if got := transport.UnescapeValue(transport.EscapeValue(s)); got != s {
			t.Fatalf("round trip of %q = %q", s, got)
		}
	})
}

func TestDeadline(t *testing.T) {
	d := time.UnixMilli(1_700_000_000_123)
	got, err := transport.ParseDeadline("Micro-Deadline", transport.FormatDeadline(d))
	if err != nil || !got.Equal(d) {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	if _, err := transport.ParseDeadline("Micro-Deadline", "soon"); micro.CodeOf(err) != micro.InvalidArgument || !strings.Contains(err.Error(), "Micro-Deadline") {
		t.Fatalf("malformed deadline = %v", err)
	}
}

func TestPrepare(t *testing.T) {
	ctx := t.Context()
	if _, _, err := transport.Prepare(ctx, "a b", "c", nil, 0); micro.CodeOf(err) != micro.InvalidArgument {
		t.Errorf("bad namespace = %v", err)
	}
	if _, _, err := transport.Prepare(ctx, "a", "c", make([]byte, 11), 10); micro.CodeOf(err) != micro.ResourceExhausted {
		t.Errorf("oversized = %v", err)
	}
	if _, _, err := transport.Prepare(micro.WithHeader(ctx, "micro-reply-to", "x"), "a", "c", nil, 0); micro.CodeOf(err) != micro.InvalidArgument {
		t.Errorf("reserved header = %v", err)
	}
	h, _, err := transport.Prepare(micro.WithHeader(ctx, "X-Id", "1"), "a", "c", nil, 0)
	if err != nil || h["x-id"] != "1" {
		t.Errorf("Prepare = %v, %v", h, err)
	}
	cctx, cancel := transport.CallContext(ctx)
	defer cancel()
	if d, ok := cctx.Deadline(); !ok || time.Until(d) > micro.DefaultCallTimeout || time.Until(d) < micro.DefaultCallTimeout-time.Minute {
		t.Errorf("CallContext deadline = %v, %v", d, ok)
	}
}

func TestDispatcher(t *testing.T) {
	m := micro.NewMux()
	var sawCtx context.Context
	m.HandleFunc("t", "typednil", func(context.Context, []byte) ([]byte, error) {
		var e *micro.Error
		return []byte("ok"), e
	})
	m.HandleFunc("t", "empty", func(_ context.Context, req []byte) ([]byte, error) {
		if req != nil {
			return nil, errors.New("an empty request arrived as non-nil")
		}
		return []byte{}, nil
	})
	m.HandleFunc("t", "ctx", func(ctx context.Context, _ []byte) ([]byte, error) {
		sawCtx = ctx
		micro.RequestInfoFrom(ctx).ReplyHeader["X-Upper"] = "v"
		return nil, nil
	})
	m.HandleFunc("t", "badreply", func(ctx context.Context, _ []byte) ([]byte, error) {
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("micro-error", "x")
		return []byte("body"), nil
	})
	m.HandleFunc("t", "big", func(context.Context, []byte) ([]byte, error) { return make([]byte, 11), nil })
	d := &transport.Dispatcher{Mux: m, Transport: "test", MaxMessageSize: 10}
	base := context.Background()

	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "typednil"}); r.Err != nil || string(r.Body) != "ok" {
		t.Errorf("typed nil = %q, %v", r.Body, r.Err)
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "empty", Body: []byte{}}); r.Err != nil || r.Body != nil {
		t.Errorf("empty = %#v, %v", r.Body, r.Err)
	}
	r := d.Serve(base, &transport.Request{Namespace: "t", Service: "ctx"})
	if r.Err != nil || r.Header["x-upper"] != "v" || sawCtx.Err() == nil {
		t.Errorf("ctx: reply header %v, err %v, handler ctx err after return %v", r.Header, r.Err, sawCtx.Err())
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "badreply"}); micro.CodeOf(r.Err) != micro.Internal || r.Body != nil {
		t.Errorf("reserved reply header = %q, %v; want Internal and no body", r.Body, r.Err)
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "big"}); micro.CodeOf(r.Err) != micro.ResourceExhausted {
		t.Errorf("big reply = %v", r.Err)
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "empty", Body: make([]byte, 11)}); micro.CodeOf(r.Err) != micro.ResourceExhausted {
		t.Errorf("big request = %v", r.Err)
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "empty", Deadline: time.Now().Add(-time.Second)}); micro.CodeOf(r.Err) != micro.DeadlineExceeded {
		t.Errorf("expired = %v", r.Err)
	}
	if r := d.Serve(base, &transport.Request{Namespace: "t", Service: "nope"}); micro.CodeOf(r.Err) != micro.NotFound {
		t.Errorf("unknown = %v", r.Err)
	}
	if r := d.Serve(base, &transport.Request{Err: transport.DuplicateHeader("micro-service")}); micro.CodeOf(r.Err) != micro.InvalidArgument {
		t.Errorf("bad request = %v", r.Err)
	}
}

// TestDispatcherAttrs checks that a Request's Attrs reach the handler's
// RequestInfo as they are, and that a Request without them yields none
// rather than leaving RequestInfo.Attrs nil.
func TestDispatcherAttrs(t *testing.T) {
	m := micro.NewMux()
	var got []slog.Attr
	m.HandleFunc("t", "attrs", func(ctx context.Context, _ []byte) ([]byte, error) {
		got = slices.Collect(micro.RequestInfoFrom(ctx).Attrs)
		return nil, nil
	})
	d := &transport.Dispatcher{Mux: m, Transport: "test"}
	attrs := []slog.Attr{slog.String("messaging.kafka.offset", "7"), slog.Int("micro.delivery.attempt", 2)}
	req := &transport.Request{Namespace: "t", Service: "attrs", Attrs: slices.Values(attrs)}
	if r := d.Serve(context.Background(), req); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !slices.EqualFunc(got, attrs, slog.Attr.Equal) {
		t.Errorf("RequestInfo.Attrs = %v, want the Request's %v", got, attrs)
	}
	if r := d.Serve(context.Background(), &transport.Request{Namespace: "t", Service: "attrs"}); r.Err != nil || len(got) != 0 {
		t.Errorf("RequestInfo.Attrs = %v, %v; want none", got, r.Err)
	}
	if got := slices.Collect(micro.RequestInfoFrom(context.Background()).Attrs); len(got) != 0 {
		t.Errorf("RequestInfo.Attrs outside a call = %v, want none", got)
	}
}

// TestDeadlineNotCanceled checks that a handler whose caller's deadline
// passes sees DeadlineExceeded, never Canceled, although the caller's ctx
// ends at the same instant.
func TestDeadlineNotCanceled(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("t", "wait", func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	d := &transport.Dispatcher{Mux: m, Transport: "test"}
	for range 50 {
		caller, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		deadline, _ := caller.Deadline()
		r := d.Serve(context.Background(), &transport.Request{Namespace: "t", Service: "wait", Deadline: deadline, Caller: caller})
		cancel()
		if r.Err == nil || r.Err.Code != micro.DeadlineExceeded {
			t.Fatalf("handler past its caller's deadline saw %v, want DeadlineExceeded", r.Err)
		}
	}
}

// TestDispatcherCopyBody proves that with CopyBody the handler gets a copy
// of the body at every size, the sizes kept with its context and the
// larger ones: what it writes never reaches the caller's buffer.
func TestDispatcherCopyBody(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("b", "scribble", func(_ context.Context, req []byte) ([]byte, error) {
		out := append([]byte(nil), req...)
		for i := range req {
			req[i] = 'x'
		}
		return out, nil
	})
	d := &transport.Dispatcher{Mux: m, Transport: "test"}
	for _, n := range []int{1, 63, 64, 65, 256, 1000, 1 << 10, 4<<10 + 1, 16 << 10, 16<<10 + 1} {
		body := []byte(strings.Repeat("a", n))
		r := d.Serve(context.Background(), &transport.Request{Namespace: "b", Service: "scribble", Body: body, CopyBody: true})
		if r.Err != nil || string(r.Body) != string(body) {
			t.Fatalf("%d bytes: reply of %d bytes, %v; want the body back", n, len(r.Body), r.Err)
		}
		if strings.Count(string(body), "a") != n {
			t.Fatalf("%d bytes: the handler wrote to the caller's buffer", n)
		}
	}
	r := d.Serve(context.Background(), &transport.Request{Namespace: "b", Service: "scribble", Body: []byte{}, CopyBody: true})
	if r.Err != nil || r.Body != nil {
		t.Fatalf("empty body: reply %q, %v; want nil, nil", r.Body, r.Err)
	}
}

// TestReplyHeaderFresh proves that the ReplyHeader a handler gets is empty
// even when the one before set headers, whichever map it is, and that a
// Reply's Header is the handler's headers, kept after the next request.
func TestReplyHeaderFresh(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("b", "set", func(ctx context.Context, req []byte) ([]byte, error) {
		h := micro.RequestInfoFrom(ctx).ReplyHeader
		if len(h) != 0 {
			return nil, fmt.Errorf("ReplyHeader holds %v at the start", h)
		}
		h.Set("X-N", string(req))
		return nil, nil
	})
	d := &transport.Dispatcher{Mux: m, Transport: "test"}
	var replies []micro.Header
	for i := range 100 {
		r := d.Serve(context.Background(), &transport.Request{Namespace: "b", Service: "set", Body: []byte(strconv.Itoa(i))})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		replies = append(replies, r.Header)
	}
	for i, h := range replies {
		if want := (micro.Header{"x-n": strconv.Itoa(i)}); !maps.Equal(h, want) {
			t.Fatalf("reply %d: header %v, want %v", i, h, want)
		}
	}
}

// TestDispatcherOwnReplyHeader checks that a Request's own ReplyHeader map
// is the handler's RequestInfo.ReplyHeader, that what the handler set comes
// back in the Reply, and that the map is empty again afterwards, so that a
// transport reusing it shows no request the headers of the last.
func TestDispatcherOwnReplyHeader(t *testing.T) {
	m := micro.NewMux()
	own := micro.Header{}
	m.HandleFunc("t", "rh", func(ctx context.Context, req []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		if len(info.ReplyHeader) != 0 {
			t.Errorf("ReplyHeader at the start of %q = %v, want empty", req, info.ReplyHeader)
		}
		info.ReplyHeader.Set("x-call", string(req))
		return nil, nil
	})
	d := &transport.Dispatcher{Mux: m, Transport: "test"}
	for _, body := range []string{"one", "two"} {
		r := d.Serve(context.Background(), &transport.Request{Namespace: "t", Service: "rh", Body: []byte(body), ReplyHeader: own})
		if r.Err != nil || r.Header["x-call"] != body {
			t.Errorf("%s: reply header %v, %v; want x-call=%s", body, r.Header, r.Err, body)
		}
		if len(own) != 0 {
			t.Errorf("%s: the Request's ReplyHeader after Serve = %v, want empty", body, own)
		}
	}
}
