package scorecard_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/grpc"
)

// TestSendWhileStopped sends a one-way message while no server runs, then
// starts one, and checks what each transport promises for it:
//   - inproc and gRPC refuse it with Unavailable, so the sender knows;
//   - NATS accepts it and drops it (at most once): a later message from the
//     same client reaches the new server, and the dropped one never does;
//   - Kafka keeps it in its topic (at least once): the new server, in the
//     same consumer group, handles it.
func TestSendWhileStopped(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			sendWhileStopped(t, tr.start(t))
		})
	}
}

func sendWhileStopped(t *testing.T, e *env) {
	got := make(chan string, 10)
	mux := micro.NewMux()
	mux.HandleFunc("oneway", "sink", func(_ context.Context, req []byte) ([]byte, error) {
		got <- string(req)
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	receive := func() string {
		t.Helper()
		select {
		case m := <-got:
			return m
		case <-ctx.Done():
			t.Fatal("message never handled")
			return ""
		}
	}

	first := run(t, e.server(mux, config{}), 5*time.Second)
	cl := e.client(config{})
	if err := cl.Send(ctx, "oneway", "sink", []byte("before")); err != nil {
		t.Fatalf("Send to a running server: %v", err)
	}
	if m := receive(); m != "before" {
		t.Fatalf("handled %q, want %q", m, "before")
	}
	if err, _ := first.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	err := cl.Send(ctx, "oneway", "sink", []byte("while-stopped"))
	switch e.name {
	case "inproc", "grpc":
		if micro.CodeOf(err) != micro.Unavailable {
			t.Fatalf("Send while stopped: %v, want Unavailable", err)
		}
		return
	default:
		if err != nil {
			t.Fatalf("Send while stopped: %v, want it accepted", err)
		}
	}
	if e.name == "nats" {
		// Send returns once the message is buffered. A Call on the same
		// connection goes out after it, and its "no responders" answer
		// comes back only after the NATS server has dealt with the
		// message, so the next server cannot subscribe in time for it.
		if _, err := cl.Call(ctx, "oneway", "sink", nil); micro.CodeOf(err) != micro.Unavailable {
			t.Fatalf("Call while stopped: %v, want Unavailable", err)
		}
	}

	run(t, e.server(mux, config{}), 5*time.Second)
	switch e.name {
	case "nats":
		// One connection, one subscriber: NATS keeps the publisher's
		// order, so a message before "after" would arrive first.
		if err := cl.Send(ctx, "oneway", "sink", []byte("after")); err != nil {
			t.Fatalf("Send after restart: %v", err)
		}
		if m := receive(); m != "after" {
			t.Fatalf("handled %q first after the restart, want %q: the message sent while stopped was delivered", m, "after")
		}
	case "kafka":
		if m := receive(); m != "while-stopped" {
			t.Fatalf("handled %q, want %q", m, "while-stopped")
		}
	}
}

// TestGRPCServerRestart stops a gRPC server and starts another on the same
// address: while none listens, calls fail at once with Unavailable; once
// the new one listens, the same client reconnects by itself.
func TestGRPCServerRestart(t *testing.T) {
	mux := micro.NewMux()
	mux.HandleFunc("restart", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	first := run(t, grpc.NewServer(mux, grpc.WithListener(l)), 5*time.Second)
	cl, err := grpc.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Call(ctx, "restart", "echo", []byte("x")); err != nil {
		t.Fatalf("call: %v", err)
	}
	if err, _ := first.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	began := time.Now()
	if _, err := cl.Call(ctx, "restart", "echo", []byte("x")); micro.CodeOf(err) != micro.Unavailable {
		t.Fatalf("call with no server: %v, want Unavailable", err)
	}
	t.Logf("Unavailable after %v with no server", time.Since(began).Round(time.Millisecond))

	run(t, grpc.NewServer(mux, grpc.WithAddress(addr)), 5*time.Second)
	// gRPC waits out its reconnect backoff; calls fail fast meanwhile.
	began = time.Now()
	if !waitFor(30*time.Second, func() bool {
		_, err := cl.Call(ctx, "restart", "echo", []byte("x"))
		return err == nil
	}) {
		t.Fatal("client did not reconnect to the new server within 30s")
	}
	t.Logf("reconnected %v after the new server listened", time.Since(began).Round(time.Millisecond))
}
