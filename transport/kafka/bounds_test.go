package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// TestRetryWithinDeadline has a handler fail with a retryable code while
// the next backoff would outlast the caller's deadline: the caller gets the
// handler's error at once, not DeadlineExceeded after the backoff.
func TestRetryWithinDeadline(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"))
	var attempts atomic.Int32
	mux := micro.NewMux()
	mux.HandleFunc("work", "flaky", func(context.Context, []byte) ([]byte, error) {
		attempts.Add(1)
		return nil, micro.Errorf(micro.Unavailable, "try later")
	})
	serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"), kafka.WithRetries(3, time.Minute))
	cl := newClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second) // the backoff is 5s: a minute, capped
	defer cancel()
	_, err := cl.Call(ctx, "work", "flaky", nil)
	if e, ok := err.(*micro.Error); !ok || e.Code != micro.Unavailable || e.Message != "try later" {
		t.Fatalf("Call = %v, want the handler's Unavailable: try later", err)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1: the retry could not end before the deadline", n)
	}
}

// TestUndeliverableReply gives a partition requests whose replies cannot be
// delivered, a reply topic that never existed and one deleted while its
// request was handled, followed by another caller's request: that one is
// answered within the produce timeout of each, and Stop is not held longer.
func TestUndeliverableReply(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"))
	const bound = 500 * time.Millisecond
	entered, release := make(chan struct{}, 1), make(chan struct{})
	mux := micro.NewMux()
	mux.HandleFunc("work", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	mux.HandleFunc("work", "held", func(context.Context, []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return []byte("late"), nil
	})
	r := serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"), kafka.WithProduceTimeout(bound))

	raw, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.ProduceSync(t.Context(), &kgo.Record{Topic: "work", Headers: []kgo.RecordHeader{
		{Key: "micro-service", Value: []byte("echo")},
		{Key: "micro-reply-to", Value: []byte("never-was")},
		{Key: "micro-correlation-id", Value: []byte("x")},
	}}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	gone, err := kafka.NewClient(kafka.WithBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := gone.Call(ctx, "work", "echo", []byte("known")); err != nil { // the server learns its reply topic
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := gone.Call(ctx, "work", "held", nil)
		held <- err
	}()
	<-entered
	if err := gone.Close(); err != nil { // deletes its reply topic
		t.Fatal(err)
	}
	if err := <-held; micro.CodeOf(err) != micro.Unavailable {
		t.Errorf("Call of a closed client = %v, want Unavailable", err)
	}
	close(release)

	cl := newClient(t, c)
	start := time.Now()
	if resp, err := cl.Call(ctx, "work", "echo", []byte("next")); err != nil || string(resp) != "next" {
		t.Fatalf("Call behind undeliverable replies = %q, %v", resp, err)
	}
	if d := time.Since(start); d > 2*bound+3*time.Second {
		t.Errorf("a request behind two undeliverable replies waited %v; the bound is %v each", d, bound)
	}
	if err := r.stop(t, 10*time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestAbandonedHandlerReplies has Stop give up on a handler; the handler's
// reply still reaches its caller.
func TestAbandonedHandlerReplies(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"))
	entered, release := make(chan struct{}), make(chan struct{})
	mux := micro.NewMux()
	mux.HandleFunc("work", "slow", func(ctx context.Context, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done() // Stop gave up
		<-release
		return []byte("finished anyway"), nil
	})
	r := serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"))
	cl := newClient(t, c)
	called := make(chan error, 1)
	var resp []byte
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var err error
		resp, err = cl.Call(ctx, "work", "slow", nil)
		called <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := r.srv.Stop(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Stop = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := <-called; err != nil || string(resp) != "finished anyway" {
		t.Fatalf("Call = %q, %v; want the abandoned handler's reply", resp, err)
	}
	if err := r.srv.Stop(t.Context()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
