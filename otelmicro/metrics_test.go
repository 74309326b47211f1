package otelmicro_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

// TestMetrics checks the instruments of both sides, their attributes, and
// that no attribute carries a payload or a header value.
func TestMetrics(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	mux := tm.mux()
	sent := make(chan struct{})
	mux.HandleFunc("m", "call", func(_ context.Context, req []byte) ([]byte, error) {
		if len(req) == 0 {
			return nil, micro.NewError(micro.InvalidArgument, "empty")
		}
		return req, nil
	})
	mux.HandleFunc("m", "send", func(context.Context, []byte) ([]byte, error) {
		close(sent)
		return nil, nil
	})
	c := tm.client(serveInproc(t, mux))
	ctx := micro.WithHeader(context.Background(), "x-secret", "header-value")
	c.Call(ctx, "m", "call", []byte("payload"))
	c.Call(ctx, "m", "call", nil)
	if err := c.Send(ctx, "m", "send", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	<-sent
	tm.rec.wait(t, 6) // every span ended, so every duration is recorded

	base := map[string]string{"micro.namespace": "m", "micro.transport": stringOf(c)}
	rpc := func(code, errType string) map[string]string {
		m := map[string]string{"rpc.system.name": "micro", "rpc.method": "m.call", "micro.service": "call",
			"rpc.response.status_code": code, "error.type": errType}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	msg := func(op string) map[string]string {
		m := map[string]string{"micro.service": "send", "messaging.system": "micro", "messaging.destination.name": "m.send",
			"messaging.operation.type": op, "messaging.operation.name": op}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	serverSide := func(m map[string]string) map[string]string {
		m["micro.transport"] = "inproc"
		return m
	}
	for _, tc := range []struct {
		metric string
		points []map[string]string
	}{
		{"rpc.client.call.duration", []map[string]string{rpc("OK", ""), rpc("INVALID_ARGUMENT", "INVALID_ARGUMENT")}},
		{"rpc.server.call.duration", []map[string]string{serverSide(rpc("OK", "")), serverSide(rpc("INVALID_ARGUMENT", ""))}},
		{"messaging.client.operation.duration", []map[string]string{msg("send")}},
		{"messaging.process.duration", []map[string]string{serverSide(msg("process"))}},
	} {
		h, ok := tm.metric(t, tc.metric).(metricdata.Histogram[float64])
		if !ok {
			t.Fatalf("%s is not a float64 histogram", tc.metric)
		}
		if len(h.DataPoints) != len(tc.points) {
			t.Errorf("%s: %d series, want %d", tc.metric, len(h.DataPoints), len(tc.points))
		}
		for _, want := range tc.points {
			found := false
			for _, dp := range h.DataPoints {
				if matches(dp.Attributes.ToSlice(), want) {
					found = true
					if dp.Count != 1 {
						t.Errorf("%s %v: count %d, want 1", tc.metric, want, dp.Count)
					}
				}
			}
			if !found {
				t.Errorf("%s: no series %v in %v", tc.metric, want, h.DataPoints)
			}
		}
		for _, dp := range h.DataPoints {
			for _, kv := range dp.Attributes.ToSlice() {
				if v := kv.Value.String(); v == "payload" || v == "header-value" || kv.Key == "x-secret" {
					t.Errorf("%s carries %s=%s", tc.metric, kv.Key, v)
				}
			}
		}
	}
	active, ok := tm.metric(t, "micro.server.active_requests").(metricdata.Sum[int64])
	if !ok || len(active.DataPoints) != 2 {
		t.Fatalf("micro.server.active_requests: %+v, want two series", active)
	}
	for _, dp := range active.DataPoints {
		if dp.Value != 0 {
			t.Errorf("micro.server.active_requests %v = %d after every request ended", dp.Attributes.ToSlice(), dp.Value)
		}
	}
}

// matches reports whether got has exactly the attributes of want, "" in
// want meaning absent.
func matches(got []attribute.KeyValue, want map[string]string) bool {
	n := 0
	for _, v := range want {
		if v != "" {
			n++
		}
	}
	return len(got) == n && diffAttrs(got, want) == nil
}

// TestSend checks the kinds of a Send on every transport: PRODUCER and
// CONSUMER, the consumer a child of the producer, with the messaging
// attributes of the medium.
func TestSend(t *testing.T) {
	for _, nw := range networks {
		t.Run(nw.name, func(t *testing.T) {
			t.Parallel()
			tm := newTelemetry(t)
			mux := tm.mux()
			mux.HandleFunc("s", "event", func(context.Context, []byte) ([]byte, error) { return nil, nil })
			c := tm.client(nw.serve(t, mux))
			if err := c.Send(context.Background(), "s", "event", nil); err != nil {
				t.Fatal(err)
			}
			spans := tm.rec.wait(t, 2)
			p, cons := find(t, spans, trace.SpanKindProducer, "s.event"), find(t, spans, trace.SpanKindConsumer, "s.event")
			if cons.Parent().SpanID() != p.SpanContext().SpanID() {
				t.Errorf("consumer's parent %s, want the producer %s", cons.Parent().SpanID(), p.SpanContext().SpanID())
			}
			system, dest := map[string]string{"kafka": "kafka", "nats": "nats"}[nw.name], "s.event"
			if system == "" {
				system = "micro"
			}
			if nw.name == "kafka" {
				dest = "s"
			}
			if d := diffAttrs(cons.Attributes(), map[string]string{
				"messaging.system": system, "messaging.destination.name": dest, "messaging.operation.type": "process",
				"micro.transport": nw.name, "rpc.method": "",
			}); d != nil {
				t.Errorf("consumer: %v", d)
			}
		})
	}
}

// TestLogHandler checks that a handler's log lines carry its span's
// trace_id and span_id, and that lines outside a span do not.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	tm := newTelemetry(t)
	var buf bytes.Buffer
	log := slog.New(otelmicro.NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("svc", "x")
	mux := tm.mux()
	mux.HandleFunc("log", "call", func(ctx context.Context, _ []byte) ([]byte, error) {
		log.InfoContext(ctx, "in handler")
		return nil, nil
	})
	c := serveInproc(t, mux)
	if _, err := c.Call(context.Background(), "log", "call", nil); err != nil {
		t.Fatal(err)
	}
	log.Info("outside")
	s := tm.rec.wait(t, 1)[0]
	var lines []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2", len(lines))
	}
	if lines[0]["trace_id"] != s.SpanContext().TraceID().String() || lines[0]["span_id"] != s.SpanContext().SpanID().String() || lines[0]["svc"] != "x" {
		t.Errorf("handler's line %v; want trace_id %s span_id %s", lines[0], s.SpanContext().TraceID(), s.SpanContext().SpanID())
	}
	if _, ok := lines[1]["trace_id"]; ok || !slices.Contains([]any{"outside"}, lines[1]["msg"]) {
		t.Errorf("line outside a span %v; want no trace_id", lines[1])
	}
}
