package otelmicro_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

// TestOneTraceAcrossTransports follows one request: it enters over gRPC;
// its handler Sends to a Kafka route; that consumer Calls a NATS route,
// whose handler Calls an inproc route. Every span is in one trace, with
// the exact parent, kind, name and key attributes.
func TestOneTraceAcrossTransports(t *testing.T) {
	tm := newTelemetry(t)
	server := otelmicro.Middleware(tm.opts...)
	client := otelmicro.ClientMiddleware(tm.opts...)
	newMux := func() *micro.Mux {
		mux := micro.NewMux()
		mux.Use(server)
		return mux
	}

	leafDone := make(chan struct{})
	leaf := newMux()
	leaf.HandleFunc("leaf", "echo", func(ctx context.Context, req []byte) ([]byte, error) {
		defer close(leafDone)
		return req, nil
	})
	rawLeaf := serveInproc(t, leaf)
	toLeaf := micro.WrapClient(rawLeaf, client)

	lookup := newMux()
	lookup.HandleFunc("users", "lookup", func(ctx context.Context, req []byte) ([]byte, error) {
		return toLeaf.Call(ctx, "leaf", "echo", req)
	})
	rawLookup := serveNATS(t, lookup)
	toLookup := micro.WrapClient(rawLookup, client)

	work := newMux()
	workErr := make(chan error, 1)
	work.HandleFunc("orders", "placed", func(ctx context.Context, req []byte) ([]byte, error) {
		_, err := toLookup.Call(ctx, "users", "lookup", req)
		workErr <- err
		return nil, err
	})
	rawWork := serveKafka(t, work)
	toWork := micro.WrapClient(rawWork, client)

	front := newMux()
	front.HandleFunc("shop", "order", func(ctx context.Context, req []byte) ([]byte, error) {
		return nil, toWork.Send(ctx, "orders", "placed", req)
	})
	rawFront := serveGRPC(t, front)
	toFront := micro.WrapClient(rawFront, client)

	if _, err := toFront.Call(context.Background(), "shop", "order", []byte("42")); err != nil {
		t.Fatalf("shop.order: %v", err)
	}
	if err := <-workErr; err != nil {
		t.Fatalf("users.lookup from the Kafka consumer: %v", err)
	}
	<-leafDone

	// The caller's CLIENT span, then every hop's pair. A client span names
	// its transport as the client's String method does, if it has one.
	want := []struct {
		kind        trace.SpanKind
		name        string
		parent      int // index into want; -1 for the root
		system, via string
	}{
		0: {trace.SpanKindClient, "shop.order", -1, "rpc", stringOf(rawFront)},
		1: {trace.SpanKindServer, "shop.order", 0, "rpc", "grpc"},
		2: {trace.SpanKindProducer, "orders.placed", 1, "kafka", stringOf(rawWork)},
		3: {trace.SpanKindConsumer, "orders.placed", 2, "kafka", "kafka"},
		4: {trace.SpanKindClient, "users.lookup", 3, "rpc", stringOf(rawLookup)},
		5: {trace.SpanKindServer, "users.lookup", 4, "rpc", "nats"},
		6: {trace.SpanKindClient, "leaf.echo", 5, "rpc", stringOf(rawLeaf)},
		7: {trace.SpanKindServer, "leaf.echo", 6, "rpc", "inproc"},
	}
	spans := tm.rec.wait(t, len(want))
	if len(spans) != len(want) {
		t.Fatalf("spans %v, want %d", names(spans), len(want))
	}
	found := make([]sdktrace.ReadOnlySpan, len(want))
	for i, w := range want {
		for _, s := range spans {
			if s.Name() == w.name && s.SpanKind() == w.kind {
				found[i] = s
			}
		}
		if found[i] == nil {
			t.Fatalf("no %v span %s in %v", w.kind, w.name, names(spans))
		}
	}
	traceID := found[0].SpanContext().TraceID()
	for i, w := range want {
		s := found[i]
		if got := s.SpanContext().TraceID(); got != traceID {
			t.Errorf("%v %s: trace %s, want %s", w.kind, w.name, got, traceID)
		}
		switch {
		case w.parent < 0 && s.Parent().IsValid():
			t.Errorf("%v %s: parent %s, want none", w.kind, w.name, s.Parent().SpanID())
		case w.parent >= 0 && s.Parent().SpanID() != found[w.parent].SpanContext().SpanID():
			t.Errorf("%v %s: parent %s, want %v %s %s", w.kind, w.name, s.Parent().SpanID(),
				want[w.parent].kind, want[w.parent].name, found[w.parent].SpanContext().SpanID())
		}
		if w.parent >= 0 && w.kind != trace.SpanKindClient && w.kind != trace.SpanKindProducer && !s.Parent().IsRemote() {
			t.Errorf("%v %s: parent is not remote: the context did not cross the wire", w.kind, w.name)
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("%v %s: status %v %q", w.kind, w.name, s.Status().Code, s.Status().Description)
		}
		ns, svc, _ := cut(w.name)
		wa := map[string]string{"micro.namespace": ns, "micro.service": svc, "error.type": "", "micro.transport": w.via}
		if w.system == "rpc" {
			wa["rpc.system.name"] = "micro"
			wa["rpc.method"] = w.name
			wa["rpc.response.status_code"] = "OK"
		} else {
			wa["messaging.system"], wa["messaging.destination.name"] = w.system, ns
			if w.via == "" { // a client that does not name its transport
				wa["messaging.system"], wa["messaging.destination.name"] = "micro", w.name
			}
			op := "send"
			if w.kind == trace.SpanKindConsumer {
				op = "process"
			}
			wa["messaging.operation.type"] = op
			wa["messaging.operation.name"] = op
			wa["rpc.response.status_code"] = ""
		}
		if d := diffAttrs(s.Attributes(), wa); d != nil {
			t.Errorf("%v %s: attributes %v", w.kind, w.name, d)
		}
	}
}

// stringOf returns what c's String method says, or "".
func stringOf(c micro.Client) string {
	if s, ok := c.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

func cut(route string) (ns, svc string, ok bool) {
	for i := range len(route) {
		if route[i] == '.' {
			return route[:i], route[i+1:], true
		}
	}
	return route, "", false
}

// TestKafkaRetries checks that a Kafka record whose handler is retried
// shows as one CONSUMER span per attempt, each a child of the record's
// PRODUCER span, the failed ones with status Error, each with the record's
// partition, offset and group and its attempt's number.
func TestKafkaRetries(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	mux := tm.mux()
	attempts := 0
	mux.HandleFunc("jobs", "flaky", func(context.Context, []byte) ([]byte, error) {
		if attempts++; attempts < 3 {
			return nil, micro.NewError(micro.Unavailable, "not yet")
		}
		return nil, nil
	})
	c := tm.client(serveKafkaOn(t, kafkaCluster(t), mux, 2, ""))
	if err := c.Send(context.Background(), "jobs", "flaky", []byte("x")); err != nil {
		t.Fatal(err)
	}
	spans := tm.rec.wait(t, 4)
	producer := find(t, spans, trace.SpanKindProducer, "jobs.flaky")
	var statuses []codes.Code
	var outcomes, events []string
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindConsumer {
			continue
		}
		statuses = append(statuses, s.Status().Code)
		outcomes = append(outcomes, attr(s, "micro.delivery.outcome"))
		for _, e := range s.Events() {
			events = append(events, e.Name)
		}
		if s.Parent().SpanID() != producer.SpanContext().SpanID() {
			t.Errorf("attempt's parent %s, want the producer %s", s.Parent().SpanID(), producer.SpanContext().SpanID())
		}
		got := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			got[kv.Key] = kv.Value
		}
		for _, want := range []attribute.KeyValue{
			attribute.String("messaging.destination.partition.id", "0"),
			attribute.Int64("messaging.kafka.offset", 0),
			attribute.String("messaging.consumer.group.name", "otel-jobs"),
			attribute.Int64("micro.delivery.attempt", int64(len(statuses))),
		} {
			if v, ok := got[want.Key]; !ok || v != want.Value {
				t.Errorf("attempt %d: %s = %v, want %v", len(statuses), want.Key, v.String(), want.Value.String())
			}
		}
	}
	if want := []codes.Code{codes.Error, codes.Error, codes.Unset}; !slices.Equal(statuses, want) {
		t.Errorf("consumer spans' statuses %v, want %v", statuses, want)
	}
	if want := []string{"retry", "retry", "ack"}; !slices.Equal(outcomes, want) {
		t.Errorf("consumer spans' outcomes %q, want %q", outcomes, want)
	}
	if want := []string{"micro.delivery.outcome", "micro.delivery.outcome"}; !slices.Equal(events, want) {
		t.Errorf("consumer spans' events %q, want one per retry %q", events, want)
	}
}

// attr returns the string value of span's attribute key, or "" if it has
// none.
func attr(span sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range span.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestKafkaDeadLetter checks that a record dead-lettered by the server
// stays in its trace: its dead letter keeps the record's headers, so the
// consumer of the dead-letter topic is a child of the original PRODUCER
// span, after the failed CONSUMER span.
func TestKafkaDeadLetter(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	mux := tm.mux()
	mux.HandleFunc("jobs", "poison", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.NewError(micro.InvalidArgument, "cannot parse")
	})
	dlq := micro.NewMux()
	dlq.Use(otelmicro.Middleware(tm.opts...))
	dlq.HandleFunc("dlq", "poison", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	brokers := kafkaCluster(t)
	c := tm.client(serveKafkaOn(t, brokers, mux, 0, "dlq"))
	serveKafkaOn(t, brokers, dlq, 0, "")
	if err := c.Send(context.Background(), "jobs", "poison", []byte("x")); err != nil {
		t.Fatal(err)
	}
	spans := tm.rec.wait(t, 3)
	producer := find(t, spans, trace.SpanKindProducer, "jobs.poison")
	failed := find(t, spans, trace.SpanKindConsumer, "jobs.poison")
	dead := find(t, spans, trace.SpanKindConsumer, "dlq.poison")
	if failed.Status().Code != codes.Error || dead.Status().Code != codes.Unset {
		t.Errorf("statuses: record %v, dead letter %v; want Error, Unset", failed.Status().Code, dead.Status().Code)
	}
	for _, s := range []sdktrace.ReadOnlySpan{failed, dead} {
		if s.Parent().SpanID() != producer.SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want the producer %s", s.Name(), s.Parent().SpanID(), producer.SpanContext().SpanID())
		}
	}
	if d := diffAttrs(dead.Attributes(), map[string]string{"messaging.destination.name": "dlq", "messaging.system": "kafka"}); d != nil {
		t.Errorf("dead letter's span: %v", d)
	}
	if o := attr(failed, "micro.delivery.outcome"); o != "dead_letter" {
		t.Errorf("record's outcome %q, want dead_letter", o)
	}
	if ev := failed.Events(); len(ev) != 1 || ev[0].Name != "micro.delivery.outcome" {
		t.Errorf("record's events %v, want one micro.delivery.outcome", ev)
	}
	if o := attr(dead, "micro.delivery.outcome"); o != "ack" {
		t.Errorf("dead letter's outcome %q, want ack", o)
	}
}
