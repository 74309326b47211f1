package natsconn_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectDials(t *testing.T) {
	ns := natstest.Start(t)
	cfg := natsconn.Config{URL: ns.URL()}
	conn, err := cfg.Connect(testCtx(t), "test", "natsconn test")
	if err != nil {
		t.Fatal(err)
	}
	if !conn.Owned() || conn.NC.Opts.Name != "natsconn test" || conn.NC.Opts.MaxReconnect != -1 {
		t.Fatalf("owned %v, name %q, max reconnects %d; want a dialled conn named by Connect, reconnecting for ever",
			conn.Owned(), conn.NC.Opts.Name, conn.NC.Opts.MaxReconnect)
	}
	closed := conn.Watch()
	conn.Stop(testCtx(t), slog.New(slog.DiscardHandler))
	if !conn.NC.IsClosed() {
		t.Fatal("Stop left a dialled connection open")
	}
	select {
	case <-closed:
		t.Fatal("Stop's own close reported as the connection closing for good")
	default:
	}
}

func TestConnectOptionsOverrideDefaults(t *testing.T) {
	ns := natstest.Start(t)
	cfg := natsconn.Config{URL: ns.URL(), Options: []natsgo.Option{natsgo.Name("mine")}}
	conn, err := cfg.Connect(testCtx(t), "test", "theirs", natsgo.Name("transport's"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.NC.Opts.Name; got != "mine" {
		t.Fatalf("name = %q, want the Config's option to win", got)
	}
}

func TestConnectGivenConn(t *testing.T) {
	ns := natstest.Start(t)
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cfg := natsconn.Config{Conn: nc, URL: "nats://127.0.0.1:1"}
	conn, err := cfg.Connect(testCtx(t), "test", "unused")
	if err != nil {
		t.Fatal(err)
	}
	if conn.NC != nc || conn.Owned() {
		t.Fatal("Connect did not use the given connection as borrowed")
	}
	conn.Watch()
	conn.Close()
	conn.Stop(testCtx(t), slog.New(slog.DiscardHandler))
	if nc.IsClosed() {
		t.Fatal("Close or Stop closed a borrowed connection")
	}

	conn = &natsconn.Conn{NC: nc}
	closed := conn.Watch()
	nc.Close()
	select {
	case <-closed:
	case <-testCtx(t).Done():
		t.Fatal("Watch did not report the connection closing")
	}
	if closed := conn.Watch(); !isClosed(closed) {
		t.Fatal("Watch of a closed connection is not closed at once")
	}
	_, err = cfg.Connect(testCtx(t), "test", "unused")
	if e := testutil.WantCode(t, err, micro.Unavailable, ""); !strings.HasPrefix(e.Message, "test: ") {
		t.Fatalf("message %q does not name the transport", e.Message)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestConnectFails(t *testing.T) {
	cfg := natsconn.Config{URL: "nats://127.0.0.1:1", Options: []natsgo.Option{natsgo.Timeout(time.Second)}}
	_, err := cfg.Connect(testCtx(t), "test", "nobody")
	testutil.WantCode(t, err, micro.Unavailable, "")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = (&natsconn.Config{URL: "nats://192.0.2.1:4222"}).Connect(ctx, "test", "nobody")
	testutil.WantCode(t, err, micro.Canceled, "")
}

func TestFlush(t *testing.T) {
	ns := natstest.Start(t)
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := natsconn.Flush(testCtx(t), nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := natsconn.Flush(ctx, nc); err == nil {
		t.Fatal("Flush with a cancelled ctx succeeded")
	}
}

func TestErrorHeaders(t *testing.T) {
	h := natsgo.Header{}
	if e := natsconn.ReadError(h); e != nil {
		t.Fatalf("ReadError of no error headers = %v, want nil", e)
	}
	want := micro.Errorf(micro.NotFound, "%s", " two\nlines %41 ")
	natsconn.WriteError(h, want)
	if h.Get(natsconn.HeaderErrorCode) != "5" {
		t.Fatalf("%s = %q, want 5", natsconn.HeaderErrorCode, h.Get(natsconn.HeaderErrorCode))
	}
	if v := h.Get(natsconn.HeaderError); strings.ContainsAny(v, "\r\n") || strings.TrimSpace(v) != v {
		t.Fatalf("%s = %q: not escaped for a NATS header", natsconn.HeaderError, v)
	}
	if e := natsconn.ReadError(h); e == nil || e.Code != want.Code || e.Message != want.Message {
		t.Fatalf("ReadError = %v, want %v", e, want)
	}
}

func TestSubjectAndPrefix(t *testing.T) {
	if got := natsconn.Subject("", "ns", "svc"); got != "ns.svc" {
		t.Errorf("Subject without prefix = %q", got)
	}
	if got := natsconn.Subject("acme.eu", "ns", "*"); got != "acme.eu.ns.*" {
		t.Errorf("Subject with prefix = %q", got)
	}
	for _, p := range []string{"", "prod", "prod.eu-1", "A_b.c"} {
		if err := natsconn.CheckPrefix("test", p); err != nil {
			t.Errorf("CheckPrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{">", "*", "a.>", "a..b", ".a", "a b"} {
		testutil.WantCode(t, natsconn.CheckPrefix("test", p), micro.InvalidArgument, "")
	}
}
