package http_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections() // of the raw requests
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const testLimit = 64 << 10

// serve starts a Server for mux on a free loopback port and returns it with
// a Client of it; both are released at cleanup.
func serve(t testing.TB, mux *micro.Mux, opts ...microhttp.ServerOption) (*microhttp.Server, *microhttp.Client) {
	t.Helper()
	srv := microhttp.NewServer(mux, append([]microhttp.ServerOption{microhttp.WithAddress("127.0.0.1:0")}, opts...)...)
	microtest.Serve(t, nil, srv)
	c, err := microhttp.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func TestConformance(t *testing.T) { microtest.Run(t, suite(nil, nil)) }

// suite is the conformance suite's view of Servers and Clients made with
// the given options and testLimit.
func suite(srvOpts []microhttp.ServerOption, cliOpts []microhttp.ClientOption) microtest.Transport {
	return microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := microhttp.NewServer(mux, append(srvOpts, microhttp.WithAddress("127.0.0.1:0"), microhttp.WithMaxMessageSize(testLimit))...)
			microtest.Serve(t, nil, srv)
			c, err := microhttp.NewClient(srv.Addr().String(), append(cliOpts, microhttp.WithMaxMessageSize(testLimit))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		MaxMessageSize: testLimit,
	}
}

// TestStartErrors checks that Start returns a port in use and a malformed
// prefix, naming them, and leaves nothing behind.
func TestStartErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := microhttp.NewServer(micro.NewMux(), microhttp.WithAddress(l.Addr().String()))
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start on a port in use = %v", err)
	}
	srv = microhttp.NewServer(micro.NewMux(), microhttp.WithAddress("127.0.0.1:0"), microhttp.WithPrefix("a/b c"))
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), `"a/b c"`) {
		t.Errorf("Start with a malformed prefix = %v", err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), `"a/b c"`) {
			t.Errorf("NewHandler with a malformed prefix: panic %v, want one naming the prefix", p)
		}
	}()
	microhttp.NewHandler(micro.NewMux(), microhttp.WithPrefix("a/b c"))
}

// TestHandler mounts a Handler on a ServeMux of its own and calls it with a
// Client: routes under the prefix, the handler's content-type on the
// reply, and a one-way message answered once handled.
func TestHandler(t *testing.T) {
	m := micro.NewMux()
	handled := make(chan string, 1)
	m.HandleFunc("a", "csv", func(ctx context.Context, req []byte) ([]byte, error) {
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("Content-Type", "text/csv")
		return req, nil
	})
	m.HandleFunc("a", "sink", func(ctx context.Context, req []byte) ([]byte, error) {
		if _, ok := ctx.Deadline(); ok || !micro.RequestInfoFrom(ctx).OneWay {
			return nil, errors.New("a one-way handler with a deadline, or not marked one-way")
		}
		handled <- string(req)
		return nil, nil
	})
	web := http.NewServeMux()
	web.Handle("/v1/", microhttp.NewHandler(m, microhttp.WithPrefix("v1"), microhttp.WithConcurrency(4)))
	hs := httptest.NewServer(web)
	defer hs.Close()
	c, err := microhttp.NewClient(hs.URL, microhttp.WithPrefix("v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reply := micro.Header{}
	resp, err := c.Call(micro.WithReplyHeader(t.Context(), reply), "a", "csv", []byte("x,y"))
	if err != nil || string(resp) != "x,y" || reply["content-type"] != "text/csv" {
		t.Errorf("Call = %q, %v, reply headers %v; want x,y and content-type text/csv", resp, err, reply)
	}
	if err := c.Send(t.Context(), "a", "sink", []byte("m")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-handled: // already: a Handler answers once the handler returned
		if got != "m" {
			t.Errorf("one-way body = %q", got)
		}
	default:
		t.Error("Send returned before the Handler's one-way handler ran")
	}
	if _, err := c.Call(t.Context(), "a", "nope", nil); micro.CodeOf(err) != micro.NotFound {
		t.Errorf("unknown route through the Handler = %v", err)
	}
}

// TestServingLost checks that Start returns an error, not nil, when its
// listener fails without Stop, and that Stop after it returns.
func TestServingLost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := microhttp.NewServer(micro.NewMux(), microhttp.WithListener(l))
	done := make(chan error, 1)
	go func() { done <- srv.Start(t.Context()) }()
	<-srv.Ready()
	l.Close()
	if err := <-done; err == nil || !strings.HasPrefix(err.Error(), "http: ") {
		t.Fatalf("Start after its listener closed = %v, want an error naming http", err)
	}
	if err := srv.Stop(t.Context()); err != nil {
		t.Fatalf("Stop after serving was lost = %v", err)
	}
}
