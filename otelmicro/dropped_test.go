package otelmicro_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// TestNATSDroppedMetric checks the recipe the NATS page gives for
// exporting the one-way messages a Server dropped at its concurrency bound
// as an OpenTelemetry counter: with its one handler blocked, 1 of 5 Sends
// is handled and the counter reads the other 4.
func TestNATSDroppedMetric(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	ns := natstest.Start(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	mux := micro.NewMux()
	mux.HandleFunc("jobs", "work", func(context.Context, []byte) ([]byte, error) {
		started <- struct{}{}
		<-release
		return nil, nil
	})
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()), nats.WithConcurrency(1))
	microtest.Serve(t, context.Background(), srv)
	t.Cleanup(func() { close(release) })

	// The recipe: an observable counter that reads Server.Dropped.
	meter := tm.mp.Meter("example.com/jobs")
	if _, err := meter.Int64ObservableCounter("micro.server.one_way_dropped",
		metric.WithDescription("One-way messages dropped at the server's concurrency bound."),
		metric.WithUnit("{message}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(srv.Dropped()))
			return nil
		})); err != nil {
		t.Fatal(err)
	}

	c, err := nats.NewClient(nats.WithURL(ns.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	if err := c.Send(ctx, "jobs", "work", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not start")
	}
	for range 4 {
		if err := c.Send(ctx, "jobs", "work", nil); err != nil {
			t.Fatal(err)
		}
	}
	// The Sends are published; wait for the Server to have read them.
	tick, timeout := time.NewTicker(5*time.Millisecond), time.After(10*time.Second)
	defer tick.Stop()
	for srv.Dropped() < 4 {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("Dropped = %d after 10 s, want 4", srv.Dropped())
		}
	}
	sum, ok := tm.metric(t, "micro.server.one_way_dropped").(metricdata.Sum[int64])
	if !ok || len(sum.DataPoints) != 1 || !sum.IsMonotonic {
		t.Fatalf("micro.server.one_way_dropped: %#v, want one monotonic sum", sum)
	}
	if got := sum.DataPoints[0].Value; got != 4 {
		t.Errorf("dropped counter = %d, want 4", got)
	}
}
