package jetstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// TestConsumerDeleted deletes a Server's durable consumer under it: serving
// ends, and Start returns an error naming the consumer.
func TestConsumerDeleted(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	srv := jetstream.NewServer(echoMux("l"), jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"),
		jetstream.WithCreateStream(), jetstream.WithPrefix(prefix))
	done := make(chan error, 1)
	go func() { done <- srv.Start(context.Background()) }()
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	<-srv.Ready()
	_, js := connect(t, ns)
	if err := js.DeleteConsumer(within(t, 10*time.Second), prefix+"_l", "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `consumer "test"`) {
			t.Fatalf("Start = %v, want an error naming the consumer", err)
		}
	case <-time.After(microtest.Timeout):
		t.Fatal("Start still serving after its consumer was deleted")
	}
}
