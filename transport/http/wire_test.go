package http_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

// post sends a raw request, as curl does, and returns the response with its
// body read.
func post(t *testing.T, method, url, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestWireErrors posts as curl does and checks, for every code, Connect's
// status and the exact JSON body, the message byte for byte.
func TestWireErrors(t *testing.T) {
	const msg = "no \"user\" 7\n\t<b>&</b> 100% é\\"
	m := micro.NewMux()
	m.HandleFunc("t", "fail", func(_ context.Context, req []byte) ([]byte, error) {
		n, _ := strconv.Atoi(string(req))
		return []byte("ignored"), micro.NewError(micro.Code(n), msg)
	})
	srv, _ := serve(t, m)
	url := "http://" + srv.Addr().String() + "/t/fail"
	const escaped = `no \"user\" 7\n\t\u003cb\u003e\u0026\u003c/b\u003e 100% é\\`
	for code, want := range map[micro.Code]struct {
		status int
		name   string
	}{
		micro.Canceled: {499, "canceled"}, micro.Unknown: {500, "unknown"},
		micro.InvalidArgument: {400, "invalid_argument"}, micro.DeadlineExceeded: {504, "deadline_exceeded"},
		micro.NotFound: {404, "not_found"}, micro.AlreadyExists: {409, "already_exists"},
		micro.PermissionDenied: {403, "permission_denied"}, micro.ResourceExhausted: {429, "resource_exhausted"},
		micro.FailedPrecondition: {400, "failed_precondition"}, micro.Aborted: {409, "aborted"},
		micro.OutOfRange: {400, "out_of_range"}, micro.Unimplemented: {501, "unimplemented"},
		micro.Internal: {500, "internal"}, micro.Unavailable: {503, "unavailable"},
		micro.DataLoss: {500, "data_loss"}, micro.Unauthenticated: {401, "unauthenticated"},
		micro.OK: {500, "unknown"}, 17: {500, "unknown"},
	} {
		resp, body := post(t, "POST", url, "", strconv.Itoa(int(code)))
		wantBody := `{"code":"` + want.name + `","message":"` + escaped + `"}` + "\n"
		if resp.StatusCode != want.status || body != wantBody || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("code %v: %d %s %q, want %d application/json %q", code, resp.StatusCode, resp.Header.Get("Content-Type"), body, want.status, wantBody)
		}
	}
}

// TestWireRequests checks what curl sees for the transport's own answers:
// a reply, an unknown route, a bad method, bad deadlines, an oversized
// body, and the headers both ways.
func TestWireRequests(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		info.ReplyHeader.Set("x-seen", info.Header.Get("x-id")+"|"+info.Header.Get("content-type")+"|"+info.Header.Get("x-hop"))
		d, _ := ctx.Deadline()
		return []byte("Hello, " + string(req) + "! " + strconv.FormatInt(d.UnixMilli(), 10)), nil
	})
	srv, _ := serve(t, m, microhttp.WithMaxMessageSize(64))
	base := "http://" + srv.Addr().String()
	deadline := time.Now().Add(time.Hour).UnixMilli()

	resp, body := post(t, "POST", base+"/greeter/hello", "text/plain", "World",
		"X-Id", "7", "X-Id", "8", "Micro-Deadline", strconv.FormatInt(deadline, 10), "Connection", "x-hop", "X-Hop", "dropped")
	if resp.StatusCode != 200 || body != "Hello, World! "+strconv.FormatInt(deadline, 10) {
		t.Errorf("reply = %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen"); got != "7,8|text/plain|" {
		t.Errorf("the handler saw x-id|content-type|x-hop = %q, want %q", got, "7,8|text/plain|")
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" || resp.Header.Get("Date") != "" {
		t.Errorf("reply Content-Type %q, Date %q; want the request's and none", got, resp.Header.Get("Date"))
	}

	// Both deadlines: the earlier wins.
	early := time.Now().Add(time.Minute).UnixMilli()
	_, body = post(t, "POST", base+"/greeter/hello", "", "x",
		"Connect-Timeout-Ms", "3600000", "Micro-Deadline", strconv.FormatInt(early, 10))
	if want := "Hello, x! " + strconv.FormatInt(early, 10); body != want {
		t.Errorf("with both deadlines the handler's is %q, want %q", body, want)
	}

	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		want                     string
	}{
		{"unknown service", "POST", "/greeter/nope", "", nil, 404, `{"code":"not_found","message":"no service \"nope\" in namespace \"greeter\""}`},
		{"unknown namespace", "POST", "/nope/hello", "", nil, 404, `{"code":"not_found","message":"no namespace \"nope\""}`},
		{"not a route", "POST", "/a/b/c", "", nil, 404, `{"code":"not_found","message":"no route at \"/a/b/c\" (want POST /namespace/service)"}`},
		{"root", "GET", "/", "", nil, 404, `{"code":"not_found","message":"no route at \"/\" (want POST /namespace/service)"}`},
		{"bad name", "POST", "/gree.ter/hello", "", nil, 400, `{"code":"invalid_argument","message":"invalid namespace \"gree.ter\" (want [A-Za-z0-9_-]+)"}`},
		{"GET", "GET", "/greeter/hello", "", nil, 405, `{"code":"unimplemented","message":"method GET not allowed on /greeter/hello (want POST)"}`},
		{"malformed timeout", "POST", "/greeter/hello", "", []string{"Connect-Timeout-Ms", "1s"}, 400,
			`{"code":"invalid_argument","message":"malformed Connect-Timeout-Ms header \"1s\" (want 1 to 10 digits of milliseconds)"}`},
		{"long timeout", "POST", "/greeter/hello", "", []string{"Connect-Timeout-Ms", "12345678901"}, 400,
			`{"code":"invalid_argument","message":"malformed Connect-Timeout-Ms header \"12345678901\" (want 1 to 10 digits of milliseconds)"}`},
		{"malformed deadline", "POST", "/greeter/hello", "", []string{"Micro-Deadline", "soon"}, 400,
			`{"code":"invalid_argument","message":"malformed Micro-Deadline header \"soon\" (want Unix milliseconds)"}`},
		{"deadline twice", "POST", "/greeter/hello", "", []string{"Micro-Deadline", "1", "Micro-Deadline", "2"}, 400,
			`{"code":"invalid_argument","message":"header \"Micro-Deadline\" appears more than once"}`},
		{"expired", "POST", "/greeter/hello", "x", []string{"Micro-Deadline", "1"}, 504, `{"code":"deadline_exceeded","message":"context deadline exceeded"}`},
		{"zero timeout", "POST", "/greeter/hello", "x", []string{"Connect-Timeout-Ms", "0"}, 504, `{"code":"deadline_exceeded","message":"context deadline exceeded"}`},
		{"too big", "POST", "/greeter/hello", strings.Repeat("x", 65), nil, 429, `{"code":"resource_exhausted","message":"request of 65 bytes exceeds the limit of 64"}`},
		{"gzip", "POST", "/greeter/hello", "x", []string{"Content-Encoding", "gzip"}, 501, `{"code":"unimplemented","message":"content-encoding \"gzip\" is not supported"}`},
		{"bad one-way", "POST", "/greeter/hello", "x", []string{"Micro-One-Way", "yes"}, 400, `{"code":"invalid_argument","message":"malformed Micro-One-Way header \"yes\" (want 1)"}`},
		{"one-way bad name", "POST", "/greeter/hel.lo", "x", []string{"Micro-One-Way", "1"}, 400, `{"code":"invalid_argument","message":"invalid service \"hel.lo\" (want [A-Za-z0-9_-]+)"}`},
	} {
		resp, body := post(t, c.method, base+c.path, "", c.body, c.header...)
		if resp.StatusCode != c.status || body != c.want+"\n" {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, body, c.status, c.want)
		}
		if c.status == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow = %q, want POST", c.name, resp.Header.Get("Allow"))
		}
	}

	resp, body = post(t, "POST", base+"/greeter/hello", "", "x", "Micro-One-Way", "1")
	if resp.StatusCode != http.StatusAccepted || body != "" {
		t.Errorf("one-way = %d %q, want 202 and no body", resp.StatusCode, body)
	}
}

// TestChunkedBodyLimit checks that a body without a Content-Length is cut
// at the limit by http.MaxBytesReader, and the connection is not left
// hanging.
func TestChunkedBodyLimit(t *testing.T) {
	ran := make(chan struct{}, 1)
	m := micro.NewMux()
	m.HandleFunc("t", "sink", func(context.Context, []byte) ([]byte, error) {
		ran <- struct{}{}
		return nil, nil
	})
	srv, _ := serve(t, m, microhttp.WithMaxMessageSize(1024))
	body := io.MultiReader(strings.NewReader(strings.Repeat("x", 1024)), strings.NewReader("y")) // no length
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+srv.Addr().String()+"/t/sink", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"code":"resource_exhausted","message":"request exceeds the limit of 1024 bytes"}` + "\n"
	if resp.StatusCode != 429 || string(b) != want || !resp.Close {
		t.Fatalf("chunked oversized body = %d %q (close %v), want 429 %q and the connection closed", resp.StatusCode, b, resp.Close, want)
	}
	select {
	case <-ran:
		t.Fatal("the handler ran for an oversized body")
	default:
	}
}

// TestHealth checks /healthz and /readyz, and that /readyz fails from the
// moment Stop begins while the server still serves (WithDrainDelay).
func TestHealth(t *testing.T) {
	srv, _ := serve(t, micro.NewMux(), microhttp.WithDrainDelay(time.Hour))
	base := "http://" + srv.Addr().String()
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := post(t, "GET", base+path, "", ""); resp.StatusCode != 200 || body != "ok\n" {
			t.Errorf("GET %s = %d %q, want 200 ok", path, resp.StatusCode, body)
		}
	}
	if resp, _ := post(t, "POST", base+"/readyz", "", ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /readyz = %d Allow %q, want 405 GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp, _ := post(t, "GET", base+"/routes", "", ""); resp.StatusCode != 404 {
		t.Errorf("GET /routes with the listing off = %d, want 404", resp.StatusCode)
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(ctx) }()
	for { // Stop has begun once /readyz fails; the delay keeps the listener open
		resp, body := post(t, "GET", base+"/readyz", "", "")
		if resp.StatusCode == 503 && body == "unavailable\n" {
			break
		}
	}
	if resp, _ := post(t, "GET", base+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /healthz while draining = %d, want 200", resp.StatusCode)
	}
	cancel()
	if err := <-stopped; err == nil {
		t.Fatal("Stop cancelled during its drain delay = nil, want ctx's error")
	}
}

// TestRouteListing checks GET /routes with WithRouteListing.
func TestRouteListing(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("greeter", "hello", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	m.HandleFunc("greeter", "echo", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	srv, _ := serve(t, m, microhttp.WithRouteListing(true), microhttp.WithPrefix("api"))
	resp, body := post(t, "GET", "http://"+srv.Addr().String()+"/routes", "", "")
	want := `[{"namespace":"greeter","service":"echo","path":"/api/greeter/echo"},{"namespace":"greeter","service":"hello","path":"/api/greeter/hello"}]` + "\n"
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("GET /routes = %d %s, want %s", resp.StatusCode, body, want)
	}
	if resp, _ := post(t, "POST", "http://"+srv.Addr().String()+"/greeter/echo", "", ""); resp.StatusCode != 404 {
		t.Fatalf("a route outside the prefix = %d, want 404", resp.StatusCode)
	}
	if resp, _ := post(t, "POST", "http://"+srv.Addr().String()+"/api/greeter/echo", "", ""); resp.StatusCode != 200 {
		t.Fatalf("a route under the prefix = %d, want 200", resp.StatusCode)
	}
}

// TestCurlData posts JSON as plain curl -d does, with the form content type
// it sends by default, to a JSON endpoint: it is read as no content type.
func TestCurlData(t *testing.T) {
	type hello struct{ Name string }
	m := micro.NewMux()
	m.Handle("greeter", "hello", micro.JSON(func(_ context.Context, r hello) (hello, error) {
		return hello{"Hello, " + r.Name + "!"}, nil
	}))
	srv, _ := serve(t, m)
	base := "http://" + srv.Addr().String()
	if resp, body := post(t, "POST", base+"/greeter/hello", "application/x-www-form-urlencoded", `{"name":"World"}`); resp.StatusCode != 200 || body != `{"Name":"Hello, World!"}` {
		t.Fatalf("curl -d = %d %q", resp.StatusCode, body)
	}
	if resp, body := post(t, "POST", base+"/greeter/hello", "application/xml", `<name/>`); resp.StatusCode != 400 || !strings.Contains(body, "invalid_argument") {
		t.Fatalf("another content type = %d %q, want 400 invalid_argument", resp.StatusCode, body)
	}
}
