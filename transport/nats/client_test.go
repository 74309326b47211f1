package nats_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// fast bounds how long a failure that needs no waiting may take, far below
// the calls' own deadline of microtest.Timeout.
const fast = microtest.Timeout / 4

// timed fails t if f takes longer than fast.
func timed(t *testing.T, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > fast {
		t.Fatalf("took %v", d)
	}
}

func TestNoRespondersIsFast(t *testing.T) {
	ns := natstest.Start(t)
	c := newClient(t, ns)
	timed(t, func() {
		_, err := c.Call(testCtx(t), "nobody", "home", nil)
		testutil.WantCode(t, err, micro.Unavailable, "")
	})
}

func TestMaxPayload(t *testing.T) {
	const maxPayload = 8 << 10
	ns := natstest.Start(t, natstest.WithMaxPayload(maxPayload))
	mux := micro.NewMux()
	mux.HandleFunc("test", "big", func(context.Context, []byte) ([]byte, error) {
		return make([]byte, maxPayload+1), nil
	})
	_, c := serve(t, ns, mux) // micro's own limit, 4 MiB, is above the NATS server's
	timed(t, func() {
		_, err := c.Call(testCtx(t), "test", "big", make([]byte, maxPayload+1))
		testutil.WantCode(t, err, micro.ResourceExhausted, "")
		err = c.Send(testCtx(t), "test", "big", make([]byte, maxPayload+1))
		testutil.WantCode(t, err, micro.ResourceExhausted, "")
		_, err = c.Call(testCtx(t), "test", "big", nil) // the reply is too big
		testutil.WantCode(t, err, micro.ResourceExhausted, "")
	})
}

func TestBadCredentials(t *testing.T) {
	ns := natstest.Start(t, natstest.WithServerOptions(&server.Options{Authorization: "secret"}))
	timed(t, func() {
		_, err := nats.NewClient(nats.WithURL(ns.URL()), nats.WithConnOptions(natsgo.Token("guess")))
		testutil.WantCode(t, err, micro.Unauthenticated, "")
	})
	c, err := nats.NewClient(nats.WithURL(ns.URL()), nats.WithConnOptions(natsgo.Token("secret")))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestDeadlineExceeded(t *testing.T) {
	ns := natstest.Start(t)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	defer close(release)
	mux := echoMux(entered, release)
	_, c := serve(t, ns, mux)
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, "test", "block", nil)
	testutil.WantCode(t, err, micro.DeadlineExceeded, "")
}

func TestForeignServiceError(t *testing.T) {
	ns := natstest.Start(t)
	nc := connect(t, ns)
	// A nats.go micro service answers errors with its own codes.
	svc, err := natsmicro.AddService(nc, natsmicro.Config{Name: "legacy", Version: "1.0.0",
		Endpoint: &natsmicro.EndpointConfig{Subject: "legacy.get", Handler: natsmicro.HandlerFunc(func(r natsmicro.Request) {
			_ = r.Error("500", "database down", nil)
		})}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	if err := nc.Flush(); err != nil { // the subscription is registered before another connection calls
		t.Fatal(err)
	}
	c := newClient(t, ns)
	_, err = c.Call(testCtx(t), "legacy", "get", nil)
	if e := testutil.WantCode(t, err, micro.Unknown, ""); e.Message != "500: database down" {
		t.Fatalf("message = %q", e.Message)
	}
}

func TestClientClose(t *testing.T) {
	ns := natstest.Start(t)
	_, c := serve(t, ns, echoMux(nil, nil))
	nc := connect(t, ns)
	given, err := nats.NewClient(nats.WithConn(nc))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*nats.Client{c, given} {
		if _, err := c.Call(testCtx(t), "test", "echo", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Call(testCtx(t), "test", "echo", nil)
		testutil.WantCode(t, err, micro.Unavailable, "")
		testutil.WantCode(t, c.Send(testCtx(t), "test", "echo", nil), micro.Unavailable, "")
	}
	if nc.IsClosed() {
		t.Fatal("Close closed the connection it was given")
	}
	_, err = given.Call(testCtx(t), "bad.name", "echo", nil)
	testutil.WantCode(t, err, micro.Unavailable, "") // closed wins over the bad name
	open := newClient(t, ns)
	_, err = open.Call(testCtx(t), "bad.name", "echo", nil)
	testutil.WantCode(t, err, micro.InvalidArgument, "")
}

func TestInvalidHeaderKeys(t *testing.T) {
	ns := natstest.Start(t)
	mux := micro.NewMux()
	mux.HandleFunc("test", "badreply", func(ctx context.Context, _ []byte) ([]byte, error) {
		micro.RequestInfoFrom(ctx).ReplyHeader.Set("bad key", "x")
		return []byte("lost"), nil
	})
	_, c := serve(t, ns, mux)
	timed(t, func() {
		_, err := c.Call(testCtx(t), "test", "badreply", nil)
		testutil.WantCode(t, err, micro.Internal, "")
		_, err = c.Call(micro.WithHeader(testCtx(t), "bad:key", "x"), "test", "badreply", nil)
		testutil.WantCode(t, err, micro.InvalidArgument, "")
	})
}

func TestInvalidPrefix(t *testing.T) {
	ns := natstest.Start(t)
	for _, p := range []string{">", "*", "a.>", "a..b", ".a", "a b"} {
		_, err := nats.NewClient(nats.WithURL(ns.URL()), nats.WithPrefix(p))
		if e := testutil.WantCode(t, err, micro.InvalidArgument, ""); !strings.Contains(e.Message, strconv.Quote(p)) {
			t.Errorf("prefix %q: message %q does not name it", p, e.Message)
		}
	}
	for _, p := range []string{"prod", "prod.eu-1", "A_b.c"} {
		c := newClient(t, ns, nats.WithPrefix(p))
		_, err := c.Call(testCtx(t), "nobody", "home", nil)
		testutil.WantCode(t, err, micro.Unavailable, "")
	}
}

// TestCallWithoutCancellation calls with contexts that have no deadline and
// can never be cancelled (Background, and headers on it): the handler sees
// micro.DefaultCallTimeout ahead and the headers, the reply arrives, and no
// responders is still Unavailable at once.
func TestCallWithoutCancellation(t *testing.T) {
	ns := natstest.Start(t)
	type seen struct {
		ahead  time.Duration
		header string
	}
	got := make(chan seen, 1)
	mux := micro.NewMux()
	mux.HandleFunc("test", "deadline", func(ctx context.Context, req []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return nil, micro.Errorf(micro.FailedPrecondition, "no deadline")
		}
		got <- seen{time.Until(d), micro.RequestInfoFrom(ctx).Header.Get("x-k")}
		return req, nil
	})
	_, c := serve(t, ns, mux)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		header string
	}{
		{"background", context.Background(), ""},
		{"header", micro.WithHeader(context.Background(), "x-k", "v"), "v"},
	} {
		resp, err := c.Call(tc.ctx, "test", "deadline", []byte("hi"))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(resp) != "hi" {
			t.Fatalf("%s: reply %q, want %q", tc.name, resp, "hi")
		}
		s := <-got
		if s.ahead < micro.DefaultCallTimeout-5*time.Second || s.ahead > micro.DefaultCallTimeout {
			t.Fatalf("%s: handler's deadline is %v ahead, want %v", tc.name, s.ahead, micro.DefaultCallTimeout)
		}
		if s.header != tc.header {
			t.Fatalf("%s: handler saw x-k %q, want %q", tc.name, s.header, tc.header)
		}
	}
	timed(t, func() {
		_, err := c.Call(context.Background(), "nobody", "home", nil)
		testutil.WantCode(t, err, micro.Unavailable, "")
	})
}
