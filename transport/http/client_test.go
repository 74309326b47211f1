package http_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

// TestNonMicroServer points a Client at servers that are not micro's: a
// proxy's 502 page, a 404 page, a redirect, foreign JSON, oversized
// replies. Each is a typed *micro.Error naming what came back, never a
// panic or a misread body.
func TestNonMicroServer(t *testing.T) {
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxy/down":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		case "/proxy/missing":
			http.NotFound(w, r)
		case "/proxy/moved":
			http.Redirect(w, r, "/elsewhere/x", http.StatusTemporaryRedirect)
		case "/proxy/teapot":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(418)
			io.WriteString(w, `{"code":"teapot","message":"short and stout","details":[]}`)
		case "/proxy/json500":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"not connect's shape"}`)
		case "/proxy/huge":
			io.WriteString(w, strings.Repeat("x", 2048))
		case "/proxy/stream":
			w.(http.Flusher).Flush() // no Content-Length
			io.WriteString(w, strings.Repeat("x", 2048))
		default:
			w.WriteHeader(200)
		}
	}))
	defer foreign.Close()
	c, err := microhttp.NewClient(foreign.URL, microhttp.WithMaxMessageSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		service string
		code    micro.Code
		msg     string
	}{
		{"down", micro.Unavailable, "http: POST " + foreign.URL + "/proxy/down: 502 Bad Gateway (not a micro reply)"},
		{"missing", micro.NotFound, "http: POST " + foreign.URL + "/proxy/missing: 404 Not Found (not a micro reply)"},
		{"moved", micro.Unknown, "http: POST " + foreign.URL + "/proxy/moved: 307 Temporary Redirect (not a micro reply)"},
		{"teapot", micro.Unknown, "teapot: short and stout"},
		{"json500", micro.Unknown, "http: POST " + foreign.URL + "/proxy/json500: 500 Internal Server Error (not a micro reply)"},
		{"huge", micro.ResourceExhausted, "reply of 2048 bytes exceeds the limit of 1024"},
		{"stream", micro.ResourceExhausted, "reply exceeds the limit of 1024 bytes"},
	} {
		resp, err := c.Call(t.Context(), "proxy", tc.service, []byte("x"))
		var e *micro.Error
		if !errors.As(err, &e) || e.Code != tc.code || e.Message != tc.msg || resp != nil {
			t.Errorf("%s: Call = %q, %v; want %v %q", tc.service, resp, err, tc.code, tc.msg)
		}
	}
	if err := c.Send(t.Context(), "proxy", "down", nil); micro.CodeOf(err) != micro.Unavailable {
		t.Errorf("Send to a 502 = %v, want Unavailable", err)
	}
	if err := c.Send(t.Context(), "proxy", "ok", nil); err != nil {
		t.Errorf("Send answered 200 = %v, want nil", err)
	}
}

// TestClientErrors checks the Client's own failures: a malformed target,
// nothing listening, and calls after Close.
func TestClientErrors(t *testing.T) {
	for _, target := range []string{"ftp://x", "http://", "http://h/p?q=1", "http://[::1"} {
		if _, err := microhttp.NewClient(target); err == nil {
			t.Errorf("NewClient(%q) = nil error", target)
		}
	}
	if _, err := microhttp.NewClient("h:1", microhttp.WithPrefix("a b")); err == nil || !strings.Contains(err.Error(), `"a b"`) {
		t.Errorf("NewClient with a bad prefix = %v, want an error naming it", err)
	}
	if _, err := microhttp.NewClient("h:1", microhttp.WithTLS(&tls.Config{}), microhttp.WithRoundTripper(http.DefaultTransport)); err == nil {
		t.Error("WithTLS beside WithRoundTripper = nil error")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := microhttp.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(t.Context(), "a", "b", nil); micro.CodeOf(err) != micro.Unavailable || !strings.Contains(err.Error(), addr) {
		t.Errorf("Call with nothing listening = %v, want Unavailable naming %s", err, addr)
	}
	c.Close()
	if _, err := c.Call(t.Context(), "a", "b", nil); micro.CodeOf(err) != micro.Unavailable {
		t.Errorf("Call after Close = %v, want Unavailable", err)
	}
	if err := c.Send(t.Context(), "a", "b", nil); micro.CodeOf(err) != micro.Unavailable {
		t.Errorf("Send after Close = %v, want Unavailable", err)
	}
}
