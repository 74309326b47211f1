package kafka_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// TestPoisonRecords sends 100 records to one partition, four of them
// poison: one whose handler keeps failing with a retryable code, one whose
// handler panics, one without a micro-service header and one for an unknown
// service. Each poison record goes to the dead-letter topic with its
// headers and the error; every other record is handled once, in order.
func TestPoisonRecords(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(4, "work", "dead"))
	const (
		n         = 100
		retryable = 50 // fails with Unavailable, retried twice
		panics    = 60
		noService = 70
		unknown   = 80
	)
	var (
		mu       sync.Mutex
		order    []int
		attempts int
		done     = make(chan struct{})
	)
	mux := micro.NewMux()
	mux.HandleFunc("work", "count", func(_ context.Context, req []byte) ([]byte, error) {
		id, _ := strconv.Atoi(string(req))
		mu.Lock()
		defer mu.Unlock()
		switch id {
		case retryable:
			attempts++
			return nil, micro.Errorf(micro.Unavailable, "try later")
		case panics:
			panic("poison")
		}
		order = append(order, id)
		if id == n-1 {
			close(done)
		}
		return nil, nil
	})
	srv := serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("poison"),
		kafka.WithRetries(2, time.Millisecond), kafka.WithDeadLetterTopic("dead"))

	cl := newClient(t, c)
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := kafka.WithKey(micro.WithHeader(t.Context(), "x-origin", "test"), []byte("one partition"))
	for id := range n {
		body := []byte(strconv.Itoa(id))
		switch id {
		case noService: // as any producer might: same key, no micro-service
			err = raw.ProduceSync(ctx, &kgo.Record{Topic: "work", Key: []byte("one partition"), Value: body,
				Headers: []kgo.RecordHeader{{Key: "x-origin", Value: []byte("test")}}}).FirstErr()
		case unknown:
			err = cl.Send(ctx, "work", "nope", body)
		default:
			err = cl.Send(ctx, "work", "count", body)
		}
		if err != nil {
			t.Fatalf("send %d: %v", id, err)
		}
	}
	wait(t, done, deliveryTO, "the last record")

	dead := consumeAll(t, c, "dead", 4)
	want := []struct {
		id      int
		code    micro.Code
		service string
	}{
		{retryable, micro.Unavailable, "count"}, {panics, micro.Internal, "count"},
		{noService, micro.InvalidArgument, ""}, {unknown, micro.NotFound, "nope"},
	}
	for i, w := range want {
		r := dead[i]
		h := map[string]string{}
		for _, rh := range r.Headers {
			h[rh.Key] = string(rh.Value)
		}
		if string(r.Value) != strconv.Itoa(w.id) || string(r.Key) != "one partition" ||
			h["micro-error-code"] != strconv.Itoa(int(w.code)) || h["micro-error"] == "" ||
			h["x-origin"] != "test" || h["micro-service"] != w.service {
			t.Errorf("dead letter %d = key %q value %q headers %v; want record %d, code %d (%v), service %q",
				i, r.Key, r.Value, h, w.id, w.code, w.code, w.service)
		}
	}
	if err := srv.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Errorf("the failing handler ran %d times, want 3 (two retries)", attempts)
	}
	if len(order) != n-4 {
		t.Errorf("handled %d records, want %d", len(order), n-4)
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("records handled out of order: %d after %d", order[i], order[i-1])
		}
	}
	checkLag(t, c, "poison")
}

// consumeAll reads the first n records of topic.
func consumeAll(t *testing.T, c *kafkatest.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), deliveryTO)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s after %d records: %v", topic, len(recs), err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}
