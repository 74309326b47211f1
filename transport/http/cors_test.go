package http_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

// TestCORS checks a browser's preflight and actual request exactly: every
// response header, as fetch from https://app.example would see them.
func TestCORS(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("x-b", "2")
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("x-a", "1")
		return req, nil
	})
	srv, _ := serve(t, m, microhttp.WithCORS("https://app.example"))
	url := "http://" + srv.Addr().String() + "/greeter/hello"

	resp, body := post(t, "OPTIONS", url, "", "",
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,x-id")
	want := http.Header{
		"Access-Control-Allow-Origin":  {"https://app.example"},
		"Access-Control-Allow-Methods": {"POST"},
		"Access-Control-Allow-Headers": {"content-type,x-id"},
		"Access-Control-Max-Age":       {"7200"},
		"Vary":                         {"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
	}
	if resp.StatusCode != http.StatusNoContent || body != "" || !equalHeader(resp.Header, want) {
		t.Errorf("preflight = %d %q %v, want 204 and exactly %v", resp.StatusCode, body, resp.Header, want)
	}

	resp, body = post(t, "OPTIONS", url, "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" ||
		body != `{"code":"permission_denied","message":"origin \"https://evil.example\" is not allowed"}`+"\n" {
		t.Errorf("preflight from another origin = %d %v %q, want 403 without CORS headers", resp.StatusCode, resp.Header, body)
	}

	resp, body = post(t, "POST", url, "application/json", `{"name":"x"}`, "Origin", "https://app.example")
	want = http.Header{
		"Access-Control-Allow-Origin":   {"https://app.example"},
		"Access-Control-Expose-Headers": {"x-a, x-b"},
		"Vary":                          {"Origin"},
		"Content-Type":                  {"application/json"},
		"Content-Length":                {"12"},
		"X-A":                           {"1"},
		"X-B":                           {"2"},
	}
	if resp.StatusCode != 200 || body != `{"name":"x"}` || !equalHeader(resp.Header, want) {
		t.Errorf("actual request = %d %q %v, want 200 and exactly %v", resp.StatusCode, body, resp.Header, want)
	}

	resp, _ = post(t, "POST", url, "", "x", "Origin", "https://evil.example")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("request from another origin = %d %v, want 200 without Access-Control-Allow-Origin", resp.StatusCode, resp.Header)
	}

	resp, _ = post(t, "PUT", url, "", "")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "OPTIONS, POST" {
		t.Errorf("PUT with CORS on = %d Allow %q, want 405 OPTIONS, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestCORSOff checks that without WithCORS an OPTIONS is 405 and no reply
// carries CORS headers.
func TestCORSOff(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("a", "b", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	srv, _ := serve(t, m)
	url := "http://" + srv.Addr().String() + "/a/b"
	resp, _ := post(t, "OPTIONS", url, "", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with CORS off = %d %v, want 405 Allow POST", resp.StatusCode, resp.Header)
	}
	resp, _ = post(t, "POST", url, "", "", "Origin", "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("reply with CORS off carries %v", resp.Header)
	}
}

// equalHeader compares headers with their values in order.
func equalHeader(a, b http.Header) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}
