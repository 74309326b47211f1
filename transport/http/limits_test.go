package http_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

// dial opens a raw connection to srv, bounded by a generous deadline so a
// fault fails the test instead of hanging it.
func dial(t *testing.T, srv *microhttp.Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// TestSlowHeaders checks that a client that never finishes its headers
// (slow-loris) loses its connection at the ReadHeaderTimeout.
func TestSlowHeaders(t *testing.T) {
	srv, _ := serve(t, micro.NewMux(), microhttp.WithReadHeaderTimeout(100*time.Millisecond))
	conn := dial(t, srv)
	start := time.Now()
	io.WriteString(conn, "POST /a/b HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("the server did not close the connection: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the connection closed after %v", d)
	}
}

// TestSlowBody checks that a body that stops arriving is answered with
// DeadlineExceeded at the read timeout, the handler not run.
func TestSlowBody(t *testing.T) {
	ran := make(chan struct{}, 1)
	m := micro.NewMux()
	m.HandleFunc("a", "b", func(context.Context, []byte) ([]byte, error) {
		ran <- struct{}{}
		return nil, nil
	})
	srv, _ := serve(t, m, microhttp.WithReadTimeout(100*time.Millisecond))
	conn := dial(t, srv)
	io.WriteString(conn, "POST /a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	want := `{"code":"deadline_exceeded","message":"request body not received within 100ms"}` + "\n"
	if resp.StatusCode != 504 || string(body) != want || !resp.Close {
		t.Fatalf("slow body = %d %q (close %v), want 504 %q and the connection closed", resp.StatusCode, body, resp.Close, want)
	}
	select {
	case <-ran:
		t.Fatal("the handler ran for a body that never arrived")
	default:
	}
}

// TestReadTimeoutSparesHandlers checks that the read timeout bounds the
// body only: a handler running past it keeps its ctx.
func TestReadTimeoutSparesHandlers(t *testing.T) {
	const timeout = 50 * time.Millisecond
	m := micro.NewMux()
	m.HandleFunc("a", "slow", func(ctx context.Context, _ []byte) ([]byte, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(4 * timeout):
			return []byte("ok"), nil
		}
	})
	_, c := serve(t, m, microhttp.WithReadTimeout(timeout))
	if resp, err := c.Call(t.Context(), "a", "slow", []byte("body")); err != nil || string(resp) != "ok" {
		t.Fatalf("a handler running past the read timeout = %q, %v", resp, err)
	}
}

// TestHeaderLimit checks MaxHeaderBytes: net/http's 431.
func TestHeaderLimit(t *testing.T) {
	srv, _ := serve(t, micro.NewMux(), microhttp.WithMaxHeaderBytes(1024))
	resp, _ := post(t, "POST", "http://"+srv.Addr().String()+"/a/b", "", "", "X-Big", strings.Repeat("x", 8<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("8 KiB of headers over a 1 KiB limit = %d, want 431", resp.StatusCode)
	}
}

// TestConcurrencyBound checks that a request past WithConcurrency is
// refused at once with ResourceExhausted, and served again once a slot is
// free.
func TestConcurrencyBound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	m := micro.NewMux()
	m.HandleFunc("a", "block", func(context.Context, []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return nil, nil
	})
	m.HandleFunc("a", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	_, c := serve(t, m, microhttp.WithConcurrency(1))
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(t.Context(), "a", "block", nil)
		done <- err
	}()
	<-entered
	_, err := c.Call(t.Context(), "a", "echo", []byte("x"))
	if micro.CodeOf(err) != micro.ResourceExhausted {
		t.Errorf("a call past the bound = %v, want ResourceExhausted", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Call(t.Context(), "a", "echo", []byte("x")); err != nil || string(resp) != "x" {
		t.Fatalf("after the bound freed = %q, %v", resp, err)
	}
}
