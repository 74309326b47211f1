package nats_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

func TestSlowHandlerDoesNotStallOthers(t *testing.T) {
	ns := natstest.Start(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	_, c := serve(t, ns, echoMux(entered, release))
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Call(testCtx(t), "test", "block", nil)
		blocked <- err
	}()
	<-entered
	// The blocked handler holds the subscription's only delivery goroutine
	// unless handlers run on their own.
	if got, err := c.Call(testCtx(t), "test", "echo", []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("echo while another handler blocks = %q, %v", got, err)
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked call: %v", err)
	}
}

// TestBlockedHandlersRunTogether checks that handlers that block all run
// at once, each on its own reader: a subscription's readers spill to a new
// one whenever every reader is inside a handler, up to the bound.
func TestBlockedHandlersRunTogether(t *testing.T) {
	ns := natstest.Start(t)
	const n = 40
	entered, release := make(chan struct{}, n), make(chan struct{})
	_, c := serve(t, ns, echoMux(entered, release))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	for range n {
		wg.Go(func() {
			if got, err := c.Call(testCtx(t), "test", "block", nil); err != nil || string(got) != "done" {
				t.Errorf("blocked call = %q, %v", got, err)
			}
		})
	}
	timeout := time.After(microtest.Timeout)
	for i := range n {
		select {
		case <-entered:
		case <-timeout:
			t.Fatalf("%d of %d blocking handlers running at once after %v", i, n, microtest.Timeout)
		}
	}
}

func TestConcurrencyBoundRefusesAtOnce(t *testing.T) {
	ns := natstest.Start(t)
	const bound = 3
	entered, release := make(chan struct{}, bound), make(chan struct{})
	_, c := serve(t, ns, echoMux(entered, release), nats.WithConcurrency(bound))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	for range bound {
		wg.Go(func() {
			if _, err := c.Call(testCtx(t), "test", "block", nil); err != nil {
				t.Errorf("call within the bound: %v", err)
			}
		})
	}
	for range bound {
		<-entered
	}
	start := time.Now()
	_, err := c.Call(testCtx(t), "test", "echo", nil) // its deadline is 20 s away
	testutil.WantCode(t, err, micro.ResourceExhausted, "")
	if d := time.Since(start); d > microtest.Timeout/2 {
		t.Fatalf("refusal took %v", d)
	}
}

// TestWireContract speaks to the server with plain nats.go, as another
// language or the nats CLI would.
func TestWireContract(t *testing.T) {
	ns := natstest.Start(t)
	var ran sync.WaitGroup
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		info.ReplyHeader.Set("X-Lang", "en")
		if _, ok := info.Header["micro-deadline"]; ok {
			return nil, micro.Errorf(micro.Internal, "transport header reached the handler")
		}
		d, _ := ctx.Deadline()
		return []byte("hello " + string(req) + " " + info.Header.Get("x-who") + " " + strconv.FormatInt(d.UnixMilli(), 10)), nil
	})
	mux.HandleFunc("greeter", "count", func(context.Context, []byte) ([]byte, error) {
		ran.Done()
		return nil, micro.Errorf(micro.PermissionDenied, "no")
	})
	serve(t, ns, mux, nats.WithPrefix("prod.eu"), nats.WithMaxMessageSize(64))
	nc := connect(t, ns)

	deadline := time.Now().Add(time.Minute).UnixMilli()
	m := natsgo.NewMsg("prod.eu.greeter.hello")
	m.Data = []byte("World")
	m.Header.Set("X-Who", "me")
	m.Header.Set("Micro-Deadline", strconv.FormatInt(deadline, 10))
	r, err := nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Data), "hello World me "+strconv.FormatInt(deadline, 10); got != want {
		t.Fatalf("reply = %q, want %q", got, want)
	}
	if r.Header.Get("x-lang") != "en" || r.Header.Get("Nats-Service-Error-Code") != "" {
		t.Fatalf("reply headers = %v", r.Header)
	}

	for _, c := range []struct{ subject, deadline, code, msg, data string }{
		{"prod.eu.greeter.nope", "", "5", `no service "nope" in namespace "greeter"`, ""},
		{"prod.eu.greeter.count", "", "7", "no", ""},
		{"prod.eu.greeter.count", strconv.FormatInt(time.Now().Add(-time.Second).UnixMilli(), 10), "4", "context deadline exceeded", ""},
		{"prod.eu.greeter.count", "soon", "3", `malformed Micro-Deadline header "soon" (want Unix milliseconds)`, ""},
		{"prod.eu.greeter.count", "", "8", "request of 65 bytes exceeds the limit of 64", strings.Repeat("x", 65)},
	} {
		m := natsgo.NewMsg(c.subject)
		m.Data = []byte(c.data)
		if c.deadline != "" {
			m.Header.Set("Micro-Deadline", c.deadline)
		}
		if c.code == "7" {
			ran.Add(1)
		}
		r, err := nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Get("Nats-Service-Error-Code") != c.code || r.Header.Get("Nats-Service-Error") != c.msg {
			t.Errorf("%s (deadline %q): error headers %v, want code %s and %q", c.subject, c.deadline, r.Header, c.code, c.msg)
		}
	}
	ran.Wait() // only the call without a deadline ran the handler
}

// TestStopLosesNoReply stops servers with many handlers in flight: every
// caller gets its handler's reply, whether the server dialled its
// connection (and then closes it) or was given one (which stays open).
func TestStopLosesNoReply(t *testing.T) {
	for _, given := range []bool{false, true} {
		t.Run("given="+strconv.FormatBool(given), func(t *testing.T) {
			ns := natstest.Start(t)
			const n = 50
			entered, release := make(chan struct{}, n), make(chan struct{})
			var opts []nats.ServerOption
			var nc *natsgo.Conn
			if given {
				nc = connect(t, ns)
				opts = append(opts, nats.WithConn(nc))
			}
			srv, c := serve(t, ns, echoMux(entered, release), opts...)
			errs := make(chan error, n)
			for range n {
				go func() {
					resp, err := c.Call(testCtx(t), "test", "block", nil)
					if err == nil && string(resp) != "done" {
						err = micro.Errorf(micro.Internal, "reply %q", resp)
					}
					errs <- err
				}()
			}
			for range n {
				<-entered
			}
			stopped := make(chan error, 1)
			go func() { stopped <- srv.Stop(testCtx(t)) }()
			select {
			case err := <-stopped:
				t.Fatalf("Stop returned (%v) with %d handlers in flight", err, n)
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("call in flight at Stop: %v", err)
				}
			}
			if err := <-stopped; err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if given && nc.IsClosed() {
				t.Fatal("Stop closed the connection it was given")
			}
			_, err := c.Call(testCtx(t), "test", "echo", nil)
			testutil.WantCode(t, err, micro.Unavailable, "")
		})
	}
}

func TestQueueGroupSharesLoad(t *testing.T) {
	ns := natstest.Start(t)
	served := make(chan string, 200)
	for _, name := range []string{"a", "b"} {
		m := micro.NewMux()
		m.HandleFunc("test", "who", func(context.Context, []byte) ([]byte, error) {
			served <- name
			return nil, nil
		})
		serve(t, ns, m)
	}
	c := newClient(t, ns)
	count := map[string]int{}
	for range cap(served) {
		if _, err := c.Call(testCtx(t), "test", "who", nil); err != nil {
			t.Fatal(err)
		}
		count[<-served]++
	}
	// Each request went to one instance; with 200 random picks, both got some.
	if count["a"]+count["b"] != cap(served) || count["a"] == 0 || count["b"] == 0 {
		t.Fatalf("requests served per instance: %v", count)
	}
}

// recorder is a slog.Handler that passes each record's message and error
// to a channel.
type recorder chan string

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r recorder) WithGroup(string) slog.Handler            { return r }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	r <- msg
	return nil
}

func TestFailedSendIsLogged(t *testing.T) {
	ns := natstest.Start(t)
	logs := make(recorder, 10)
	m := micro.NewMux()
	m.HandleFunc("test", "fail", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.Errorf(micro.Aborted, "cannot")
	})
	_, c := serve(t, ns, m, nats.WithLogger(slog.New(logs)))
	if err := c.Send(testCtx(t), "test", "fail", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-logs:
		if want := "nats: one-way message failed: cannot"; got != want {
			t.Fatalf("log = %q, want %q", got, want)
		}
	case <-testCtx(t).Done():
		t.Fatal("failed one-way message was not logged")
	}
}

func TestStartErrors(t *testing.T) {
	ns := natstest.Start(t, natstest.WithServerOptions(&server.Options{Username: "u", Password: "p"}))
	url := nats.WithURL(ns.URL())
	creds := nats.WithConnOptions(natsgo.UserInfo("u", "p"))
	for _, c := range []struct {
		name string
		opts []nats.ServerOption
		code micro.Code
	}{
		{"bad credentials", []nats.ServerOption{url, nats.WithConnOptions(natsgo.UserInfo("u", "wrong"))}, micro.Unauthenticated},
		{"no server", []nats.ServerOption{nats.WithURL("nats://127.0.0.1:1")}, micro.Unavailable},
		{"bad name", []nats.ServerOption{url, creds, nats.WithServiceName("a.b")}, micro.Unknown},
		{"bad version", []nats.ServerOption{url, creds, nats.WithServiceVersion("v1")}, micro.Unknown},
		{"wildcard prefix", []nats.ServerOption{url, creds, nats.WithPrefix(">")}, micro.InvalidArgument},
		{"empty prefix token", []nats.ServerOption{url, creds, nats.WithPrefix("prod..eu")}, micro.InvalidArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := nats.NewServer(micro.NewMux(), c.opts...)
			err := srv.Start(testCtx(t))
			if err == nil {
				t.Fatal("Start = nil")
			}
			if micro.CodeOf(err) != c.code {
				t.Fatalf("Start = %v, want code %v", err, c.code)
			}
			if err := srv.Stop(testCtx(t)); err != nil {
				t.Fatalf("Stop after failed Start: %v", err)
			}
		})
	}
}

func TestStartTwiceAndStopBeforeStart(t *testing.T) {
	ns := natstest.Start(t)
	srv := nats.NewServer(micro.NewMux(), nats.WithURL(ns.URL()))
	microtest.Serve(t, nil, srv)
	if err := srv.Start(testCtx(t)); err == nil {
		t.Fatal("second Start = nil")
	}

	early := nats.NewServer(micro.NewMux(), nats.WithURL(ns.URL()))
	if err := early.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := early.Start(testCtx(t)); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after Stop = %v, want %v", err, micro.ErrServerStopped)
	}
}

func TestStartFailsWhenConnectionCloses(t *testing.T) {
	ns := natstest.Start(t)
	nc := connect(t, ns)
	srv := nats.NewServer(echoMux(nil, nil), nats.WithConn(nc))
	done := make(chan error, 1)
	go func() { done <- srv.Start(testCtx(t)) }()
	<-srv.Ready()
	nc.Close()
	select {
	case err := <-done:
		testutil.WantCode(t, err, micro.Unavailable, "")
	case <-testCtx(t).Done():
		t.Fatal("Start kept running on a closed connection")
	}
	if err := srv.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestHandlerCtxDeadline checks that a handler waiting on ctx.Done() is
// released by the caller's deadline, carried by the Micro-Deadline header.
func TestHandlerCtxDeadline(t *testing.T) {
	ns := natstest.Start(t)
	saw := make(chan error, 1)
	mux := micro.NewMux()
	mux.HandleFunc("test", "wait", func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		saw <- ctx.Err()
		return nil, ctx.Err()
	})
	_, c := serve(t, ns, mux)
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, "test", "wait", nil)
	testutil.WantCode(t, err, micro.DeadlineExceeded, "")
	select {
	case err := <-saw:
		if err != context.DeadlineExceeded {
			t.Fatalf("handler's ctx.Err() = %v, want %v", err, context.DeadlineExceeded)
		}
	case <-testCtx(t).Done():
		t.Fatal("the handler's ctx never ended")
	}
}

// TestWireHeaders sends headers as a foreign NATS client may: keys in any
// case, repeated, nats.go's status-line keys, the deadline twice.
func TestWireHeaders(t *testing.T) {
	ns := natstest.Start(t)
	mux := micro.NewMux()
	mux.HandleFunc("test", "headers", func(ctx context.Context, _ []byte) ([]byte, error) {
		h := micro.RequestInfoFrom(ctx).Header
		return []byte(h.Get("x-multi") + "|" + h.Get("status") + "|" + h.Get("description") + "|" + strconv.Itoa(len(h))), nil
	})
	const message = " two\nlines, 100% sure "
	mux.HandleFunc("test", "fail", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.NewError(micro.FailedPrecondition, message)
	})
	_, c := serve(t, ns, mux)
	nc := connect(t, ns)

	m := natsgo.NewMsg("test.headers")
	m.Header = natsgo.Header{
		"X-Multi": {"a", "b"}, "x-multi": {"c"},
		"status": {"ok"}, "description": {"mine"}, // a user's, lower-case
		"Status": {"503"}, "Description": {"No Responders"}, // nats.go's status line
	}
	r, err := nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Data), "a,b,c|ok|mine|3"; got != want {
		t.Fatalf("handler saw %q, want %q", got, want)
	}

	m = natsgo.NewMsg("test.headers")
	m.Header = natsgo.Header{"Micro-Deadline": {"1"}, "micro-deadline": {"2"}}
	if r, err = nc.RequestMsg(m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, msg := r.Header.Get("Nats-Service-Error-Code"), r.Header.Get("Nats-Service-Error"); code != "3" || msg != `header "Micro-Deadline" appears more than once` {
		t.Fatalf("deadline twice: error headers %q %q", code, msg)
	}

	// The message is escaped on the wire, readable as it is in the nats
	// CLI where it is ordinary text, and byte-identical to a micro Client.
	if r, err = nc.Request("test.fail", nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Header.Get("Nats-Service-Error"), "%20two%0Alines, 100%25 sure%20"; got != want {
		t.Fatalf("Nats-Service-Error = %q, want %q", got, want)
	}
	_, err = c.Call(testCtx(t), "test", "fail", nil)
	if e := testutil.WantCode(t, err, micro.FailedPrecondition, ""); e.Message != message {
		t.Fatalf("message = %q, want %q", e.Message, message)
	}
}

// TestStartFailsOnDeniedSubscription serves with a user that may not
// subscribe to a namespace's subjects, or to the services protocol's:
// Start ends with PermissionDenied naming the subject, and nothing is left
// subscribed.
func TestStartFailsOnDeniedSubscription(t *testing.T) {
	for _, c := range []struct{ name, allow, denied string }{
		{"namespace", "$SRV.>", `"test.*"`},
		{"discovery", "test.*", `"$SRV.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := natstest.Start(t, natstest.WithServerOptions(&server.Options{Users: []*server.User{{
				Username: "u", Password: "p",
				Permissions: &server.Permissions{Subscribe: &server.SubjectPermission{Allow: []string{c.allow, "_INBOX.>"}}},
			}}}))
			nc := connect(t, ns, natsgo.UserInfo("u", "p"), natsgo.ErrorHandler(func(*natsgo.Conn, *natsgo.Subscription, error) {}))
			srv := nats.NewServer(echoMux(nil, nil), nats.WithConn(nc))
			done := make(chan error, 1)
			go func() { done <- srv.Start(testCtx(t)) }()
			var err error
			select {
			case err = <-done:
			case <-srv.Ready():
				_ = srv.Stop(testCtx(t))
				t.Fatal("Start served without the subscription it was denied")
			}
			e := testutil.WantCode(t, err, micro.PermissionDenied, "")
			if !strings.Contains(e.Message, c.denied) {
				t.Fatalf("Start = %v, want it to name %s", err, c.denied)
			}
			if n := nc.NumSubscriptions(); n != 0 {
				t.Fatalf("%d subscriptions left after the failed Start", n)
			}
			if err := srv.Stop(testCtx(t)); err != nil {
				t.Fatalf("Stop after failed Start: %v", err)
			}
		})
	}
}
