package otelmicro_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
)

// TestStatus checks the span status, code and error type on both sides of
// a Call whose handler fails, panics or times out, on inproc and gRPC.
func TestStatus(t *testing.T) {
	for _, tr := range []struct {
		name  string
		serve func(testing.TB, *micro.Mux) micro.Client
	}{{"inproc", serveInproc}, {"grpc", serveGRPC}} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				service string
				handler micro.HandlerFunc
				code    string
				// What each side's status is: the server's is an error for
				// the server's faults only, as the gRPC conventions say.
				server, client codes.Code
				desc           string
				event          string
			}{
				{"ok", func(context.Context, []byte) ([]byte, error) { return []byte("x"), nil },
					"OK", codes.Unset, codes.Unset, "", ""},
				{"invalid", func(context.Context, []byte) ([]byte, error) {
					return nil, micro.NewError(micro.InvalidArgument, "name is required")
				}, "INVALID_ARGUMENT", codes.Unset, codes.Error, "name is required", ""},
				{"fails", func(context.Context, []byte) ([]byte, error) {
					return nil, micro.NewError(micro.Unavailable, "db down")
				}, "UNAVAILABLE", codes.Error, codes.Error, "db down", ""},
				{"plain", func(context.Context, []byte) ([]byte, error) {
					return nil, errString("plain error")
				}, "UNKNOWN", codes.Error, codes.Error, "plain error", ""},
				{"panics", func(context.Context, []byte) ([]byte, error) { panic("boom") },
					"INTERNAL", codes.Error, codes.Error, "", "panic"},
				// The handler's ctx ends when the caller's deadline passes;
				// the kit may cancel it (CANCELLED, the caller's fault) a
				// moment before its own deadline fires (DEADLINE_EXCEEDED,
				// an error of the server's): the server's span records what
				// the handler returned, checked below.
				{"times-out", func(ctx context.Context, _ []byte) ([]byte, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}, "DEADLINE_EXCEEDED", codes.Error, codes.Error, "", ""},
			} {
				t.Run(tc.service, func(t *testing.T) {
					t.Parallel()
					tm := newTelemetry(t)
					mux := tm.mux()
					returned := make(chan error, 1)
					mux.HandleFunc("status", tc.service, func(ctx context.Context, req []byte) (resp []byte, err error) {
						defer func() { returned <- err }()
						return tc.handler(ctx, req)
					})
					c := tm.client(tr.serve(t, mux))
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					defer cancel()
					if tc.service != "times-out" {
						ctx = context.Background()
					}
					_, err := c.Call(ctx, "status", tc.service, nil)
					if got := micro.CodeOf(err).String(); codeName(got) != tc.code {
						t.Fatalf("Call: %v, want %s", err, tc.code)
					}
					spans := tm.rec.wait(t, 2)
					serverCode := tc.code
					if tc.service == "times-out" {
						if serverCode = codeName(micro.CodeOf(<-returned).String()); serverCode == "CANCELLED" {
							tc.server = codes.Unset
						}
					}
					for _, side := range []struct {
						kind   trace.SpanKind
						status codes.Code
						code   string
					}{{trace.SpanKindServer, tc.server, serverCode}, {trace.SpanKindClient, tc.client, tc.code}} {
						s := find(t, spans, side.kind, "status."+tc.service)
						if s.Status().Code != side.status {
							t.Errorf("%v: status %v %q, want %v", side.kind, s.Status().Code, s.Status().Description, side.status)
						}
						if side.status == codes.Error && tc.desc != "" && s.Status().Description != tc.desc {
							t.Errorf("%v: description %q, want %q", side.kind, s.Status().Description, tc.desc)
						}
						errType := ""
						if side.status == codes.Error {
							errType = side.code
						}
						if d := diffAttrs(s.Attributes(), map[string]string{
							"rpc.response.status_code": side.code, "error.type": errType,
						}); d != nil {
							t.Errorf("%v: %v", side.kind, d)
						}
					}
					if tc.event != "" {
						s := find(t, spans, trace.SpanKindServer, "status."+tc.service)
						if ev := s.Events(); len(ev) != 1 || ev[0].Name != tc.event {
							t.Errorf("server events %v, want %q", ev, tc.event)
						}
					}
				})
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// codeName spells a micro.Code's name as the conventions do.
func codeName(s string) string {
	out := []byte{}
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' && i > 0 && s[i-1] >= 'a' {
			out = append(out, '_')
		}
		out = append(out, c&^0x20)
	}
	if string(out) == "CANCELED" {
		return "CANCELLED"
	}
	return string(out)
}

func find(t testing.TB, spans []sdktrace.ReadOnlySpan, kind trace.SpanKind, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind() == kind && s.Name() == name {
			return s
		}
	}
	t.Fatalf("no %v span %s in %v", kind, name, names(spans))
	return nil
}
