package scorecard_test

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
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
