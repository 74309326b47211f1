package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// TestSlowHandler runs a handler three times as long as AckWait: its
// message is extended while it runs, handled once and not redelivered.
func TestSlowHandler(t *testing.T) {
	const ackWait = time.Second
	ns := startJS(t)
	_, js := connect(t, ns)
	prefix := newPrefix()
	a := newAttempts()
	done := make(chan struct{}, 1)
	mux := micro.NewMux()
	mux.HandleFunc("s", "slow", func(_ context.Context, req []byte) ([]byte, error) {
		a.run(string(req))
		time.Sleep(3 * ackWait) // the work itself, not synchronisation
		done <- struct{}{}
		return nil, nil
	})
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithAckWait(ackWait)))
	if err := newClient(t, ns, jetstream.WithPrefix(prefix)).Send(t.Context(), "s", "slow", []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("slow handler did not finish")
	}
	if stopErr, startErr := stop(10 * time.Second); stopErr != nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v", stopErr, startErr)
	}
	info := consumerInfo(t, js, prefix+"_s")
	if n := a.of("x"); n != 1 || info.NumRedelivered != 0 || info.NumAckPending != 0 {
		t.Fatalf("handled %d times, %d redelivered, %d unacknowledged; want 1, 0, 0", n, info.NumRedelivered, info.NumAckPending)
	}
}

// TestStopDuringBackoff stops a server while a message it failed waits for
// its redelivery: the next server handles it, and it is not dead-lettered.
func TestStopDuringBackoff(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	dlq := "dead." + prefix
	letters, dlnc := deadLetters(t, ns, dlq)
	a := newAttempts()
	mux := micro.NewMux()
	mux.HandleFunc("b", "work", func(_ context.Context, req []byte) ([]byte, error) {
		if a.run(string(req)) == 1 {
			return nil, micro.NewError(micro.Unavailable, "not yet")
		}
		return nil, nil
	})
	// One retry: the second delivery is the last, so a dead letter would
	// follow any failure of it.
	opts := []jetstream.ServerOption{jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithRetries(1, 2*time.Second), jetstream.WithDeadLetterSubject(dlq)}
	stop := running(t, jetstream.NewServer(mux, opts...))
	if err := newClient(t, ns, jetstream.WithPrefix(prefix)).Send(t.Context(), "b", "work", []byte("m")); err != nil {
		t.Fatal(err)
	}
	waitRun(t, a.ch) // first attempt failed: the message waits 2 s
	if stopErr, startErr := stop(10 * time.Second); stopErr != nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v", stopErr, startErr)
	}
	stop = running(t, jetstream.NewServer(mux, opts...))
	waitRun(t, a.ch)
	if _, err := stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := dlnc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-letters:
		t.Fatalf("dead letter %q", m.Data)
	default:
	}
	if n := a.of("m"); n != 2 {
		t.Fatalf("handled %d times, want 2", n)
	}
}

// TestStopCancelsHandler stops a server with a short deadline while a
// handler runs: the handler's ctx is cancelled, and its message, though it
// failed with no retries allowed, is redelivered to the next server rather
// than dead-lettered.
func TestStopCancelsHandler(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	dlq := "dead." + prefix
	letters, dlnc := deadLetters(t, ns, dlq)
	a := newAttempts()
	mux := micro.NewMux()
	mux.HandleFunc("c", "work", func(ctx context.Context, req []byte) ([]byte, error) {
		if a.run(string(req)) == 1 {
			<-ctx.Done() // until Stop gives up
			return nil, ctx.Err()
		}
		return nil, nil
	})
	opts := []jetstream.ServerOption{jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithRetries(0, 0), jetstream.WithDeadLetterSubject(dlq)}
	stop := running(t, jetstream.NewServer(mux, opts...))
	if err := newClient(t, ns, jetstream.WithPrefix(prefix)).Send(t.Context(), "c", "work", []byte("m")); err != nil {
		t.Fatal(err)
	}
	waitRun(t, a.ch)
	if stopErr, startErr := stop(300 * time.Millisecond); stopErr == nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v; want Stop's deadline, nil", stopErr, startErr)
	}
	stop = running(t, jetstream.NewServer(mux, opts...))
	waitRun(t, a.ch)
	if _, err := stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := dlnc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-letters:
		t.Fatalf("dead letter %q", m.Data)
	default:
	}
	if n := a.of("m"); n != 2 {
		t.Fatalf("handled %d times, want 2", n)
	}
}
