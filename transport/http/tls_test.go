package http_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

// TestConformanceTLS runs the suite over HTTPS, where net/http speaks
// HTTP/2: deadlines, cancellation and limits hold on its streams too.
func TestConformanceTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite runs once in plaintext in -short")
	}
	serverTLS, clientTLS := testutil.TLS(t)
	microtest.Run(t, suite([]microhttp.ServerOption{microhttp.WithTLS(serverTLS)}, []microhttp.ClientOption{microhttp.WithTLS(clientTLS)}))
}

// TestTLS checks that the Server negotiates HTTP/2 over TLS, and that a
// client that does not trust it fails with Unavailable, promptly.
func TestTLS(t *testing.T) {
	serverTLS, clientTLS := testutil.TLS(t)
	m := micro.NewMux()
	m.HandleFunc("a", "proto", func(ctx context.Context, _ []byte) ([]byte, error) { return nil, nil })
	srv, _ := serve(t, m, microhttp.WithTLS(serverTLS))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("https://"+srv.Addr().String()+"/a/proto", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("over TLS: %d %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	untrusting, err := microhttp.NewClient(srv.Addr().String(), microhttp.WithTLS(&tls.Config{ServerName: "localhost"}))
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	if _, err := untrusting.Call(t.Context(), "a", "proto", nil); micro.CodeOf(err) != micro.Unavailable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the server = %v, want Unavailable naming the certificate", err)
	}
}

// TestNoH2C checks that a plaintext Server does not speak HTTP/2 with
// prior knowledge: net/http's Shutdown would not wait for such connections.
func TestNoH2C(t *testing.T) {
	srv, _ := serve(t, micro.NewMux())
	conn := dial(t, srv)
	io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
		t.Fatalf("an h2c preface got %q, %v; want an HTTP/1.1 refusal", line, err)
	}
}

// TestStopAfterTLSBurst checks that Stop after a burst of calls on a new
// TLS Client drains promptly: such a burst dials HTTP/2 connections that
// may finish their handshake after Shutdown began, and net/http sends
// those no GOAWAY unless Shutdown runs again.
func TestStopAfterTLSBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of TLS handshakes")
	}
	serverTLS, clientTLS := testutil.TLS(t)
	m := micro.NewMux()
	m.HandleFunc("a", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	for range 2 {
		srv := microhttp.NewServer(m, microhttp.WithAddress("127.0.0.1:0"), microhttp.WithTLS(serverTLS))
		done := make(chan error, 1)
		go func() { done <- srv.Start(context.Background()) }()
		<-srv.Ready()
		c, err := microhttp.NewClient(srv.Addr().String(), microhttp.WithTLS(clientTLS))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if _, err := c.Call(t.Context(), "a", "echo", []byte("x")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = srv.Stop(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Stop after a burst of TLS calls = %v, want nil within 10s", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
