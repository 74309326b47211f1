package kafka_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// TestWireContract talks to a server the way any Kafka producer can, with
// raw records, and checks the reply record and what the handler saw: a
// request-reply error is answered, not dead-lettered; a malformed deadline
// is InvalidArgument; a handler that sets a transport's reply header fails
// with Internal and forges nothing; replies and dead letters are not
// compressed.
func TestWireContract(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(2, "pfx-greeter", "replies"), kafkatest.WithTopics(1, "dlq"))
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(ctx context.Context, req []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		var keys []string
		for k, v := range info.Header {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		d, _ := ctx.Deadline()
		info.ReplyHeader.Set("X-Lang", "en")
		return fmt.Appendf(nil, "hello %s|%s|%s|%s|%d", req, info.Namespace, info.Transport, strings.Join(keys, ","), d.UnixMilli()), nil
	})
	mux.HandleFunc("greeter", "fail", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.Errorf(micro.PermissionDenied, "no entry")
	})
	mux.HandleFunc("greeter", "forge", func(ctx context.Context, _ []byte) ([]byte, error) {
		info := micro.RequestInfoFrom(ctx)
		info.ReplyHeader.Set("micro-error-code", "13")
		info.ReplyHeader.Set("micro-correlation-id", "forged")
		return []byte("fine"), nil
	})
	serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("greeter"), kafka.WithTopicPrefix("pfx-"),
		kafka.WithDeadLetterTopic("dlq"))

	raw, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("replies", "dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	deadline := time.Now().Add(time.Minute).UnixMilli()
	for _, r := range []*kgo.Record{
		{Topic: "pfx-greeter", Value: []byte("bob"), Headers: []kgo.RecordHeader{
			{Key: "micro-service", Value: []byte("hello")},
			{Key: "micro-reply-to", Value: []byte("replies")},
			{Key: "micro-correlation-id", Value: []byte("c1")},
			{Key: "micro-deadline", Value: []byte(strconv.FormatInt(deadline, 10))},
			{Key: "X-Trace", Value: []byte("t1")},
		}},
		{Topic: "pfx-greeter", Headers: []kgo.RecordHeader{
			{Key: "micro-service", Value: []byte("fail")},
			{Key: "micro-reply-to", Value: []byte("replies")},
			{Key: "micro-correlation-id", Value: []byte("c2")},
		}},
		{Topic: "pfx-greeter", Headers: []kgo.RecordHeader{
			{Key: "micro-service", Value: []byte("hello")},
			{Key: "micro-reply-to", Value: []byte("replies")},
			{Key: "micro-correlation-id", Value: []byte("c3")},
			{Key: "micro-deadline", Value: []byte("soon")},
		}},
		{Topic: "pfx-greeter", Headers: []kgo.RecordHeader{
			{Key: "micro-service", Value: []byte("forge")},
			{Key: "micro-reply-to", Value: []byte("replies")},
			{Key: "micro-correlation-id", Value: []byte("c4")},
		}},
		// One way: its failure is dead-lettered, after c2's would be.
		{Topic: "pfx-greeter", Value: []byte("marker"), Headers: []kgo.RecordHeader{
			{Key: "micro-service", Value: []byte("fail")},
		}},
	} {
		r.Key = []byte("one partition, in order")
		if err := raw.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]map[string]string{}
	values := map[string]string{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var dead []string
	for len(got) < 4 || len(dead) == 0 {
		fs := raw.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if ct := r.Attrs.CompressionType(); ct != 0 {
				t.Errorf("record of %s compressed with codec %d: a client without codecs cannot read it", r.Topic, ct)
			}
			if r.Topic == "dlq" {
				dead = append(dead, string(r.Value))
				return
			}
			h := map[string]string{}
			for _, rh := range r.Headers {
				h[rh.Key] = string(rh.Value)
			}
			got[h["micro-correlation-id"]] = h
			values[h["micro-correlation-id"]] = string(r.Value)
		})
	}
	want := fmt.Sprintf("hello bob|greeter|kafka|x-trace=t1|%d", deadline)
	if values["c1"] != want || got["c1"]["x-lang"] != "en" || got["c1"]["micro-error-code"] != "" {
		t.Errorf("reply c1 = %q %v, want %q with x-lang=en", values["c1"], got["c1"], want)
	}
	if h := got["c2"]; h["micro-error-code"] != "7" || h["micro-error"] != "no entry" || values["c2"] != "" {
		t.Errorf("reply c2 = %q %v, want error code 7, message %q", values["c2"], h, "no entry")
	}
	if h := got["c3"]; h["micro-error-code"] != "3" {
		t.Errorf("reply c3 (malformed deadline) = %v, want error code 3 (InvalidArgument)", h)
	}
	if h := got["c4"]; values["c4"] != "" || h["micro-error-code"] != "13" ||
		h["micro-error"] != `reply header "micro-error-code" is reserved` && h["micro-error"] != `reply header "micro-correlation-id" is reserved` ||
		got["forged"] != nil {
		t.Errorf("reply c4 = %q %v, want Internal (13) for a reserved reply header, nothing forged", values["c4"], h)
	}
	if len(dead) != 1 || dead[0] != "marker" {
		t.Errorf("dead letters = %q, want only the one-way record", dead)
	}
}

// TestSharedReplyTopic has two clients share one reply topic, each
// receiving only its own replies, while a key keeps a caller's requests in
// order.
func TestSharedReplyTopic(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(4, "work"), kafkatest.WithTopics(2, "replies"))
	var mu sync.Mutex
	last := map[string]int{}
	mux := micro.NewMux()
	mux.HandleFunc("work", "seq", func(_ context.Context, req []byte) ([]byte, error) {
		who, n, _ := strings.Cut(string(req), ":")
		i, _ := strconv.Atoi(n)
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[who]; ok && i != prev+1 {
			return nil, micro.Errorf(micro.FailedPrecondition, "%s: %d after %d", who, i, prev)
		}
		last[who] = i
		return req, nil
	})
	serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"))
	var wg sync.WaitGroup
	for _, who := range []string{"a", "b"} {
		cl := newClient(t, c, kafka.WithReplyTopic("replies"))
		wg.Go(func() {
			ctx := kafka.WithKey(t.Context(), []byte(who))
			for i := range 50 {
				req := who + ":" + strconv.Itoa(i)
				resp, err := cl.Call(ctx, "work", "seq", []byte(req))
				if err != nil || string(resp) != req {
					t.Errorf("Call %s = %q, %v", req, resp, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDuplicateHeaders sends records that carry one of the transport's
// own headers twice. Each is refused with InvalidArgument, never routed by
// either value: answered to the caller when it names one reply topic,
// dead-lettered when it names two, and a second reply topic never gets the
// reply.
func TestDuplicateHeaders(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work", "replies", "other", "dlq"))
	var ran sync.Map
	mux := micro.NewMux()
	for _, svc := range []string{"a", "b"} {
		mux.HandleFunc("work", svc, func(context.Context, []byte) ([]byte, error) {
			ran.Store(svc, true)
			return []byte(svc), nil
		})
	}
	serve(t, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("g"), kafka.WithDeadLetterTopic("dlq"))
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("replies", "other", "dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h := func(kv ...string) []kgo.RecordHeader {
		var hs []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return hs
	}
	later := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	for _, r := range []*kgo.Record{
		{Value: []byte("service"), Headers: h("micro-service", "a", "Micro-Service", "b",
			"micro-reply-to", "replies", "micro-correlation-id", "d1")},
		{Value: []byte("deadline"), Headers: h("micro-service", "a", "micro-deadline", later, "micro-deadline", later,
			"micro-reply-to", "replies", "micro-correlation-id", "d2")},
		{Value: []byte("correlation"), Headers: h("micro-service", "a",
			"micro-reply-to", "replies", "micro-correlation-id", "d3", "micro-correlation-id", "d3bis")},
		{Value: []byte("reply-to"), Headers: h("micro-service", "a",
			"micro-reply-to", "replies", "micro-reply-to", "other", "micro-correlation-id", "d4")},
	} {
		r.Topic = "work"
		if err := raw.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	replies := map[string]*kgo.Record{}
	var dead, other []*kgo.Record
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for len(replies) < 3 || len(dead) == 0 {
		fs := raw.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("replies %v, dead letters %d: %v", replies, len(dead), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch r.Topic {
			case "dlq":
				dead = append(dead, r)
			case "other":
				other = append(other, r)
			default:
				for _, rh := range r.Headers {
					if rh.Key == "micro-correlation-id" {
						replies[string(rh.Value)] = r
					}
				}
			}
		})
	}
	header := func(r *kgo.Record, key string) string {
		for _, rh := range r.Headers {
			if rh.Key == key {
				return string(rh.Value)
			}
		}
		return ""
	}
	for id, key := range map[string]string{"d1": "micro-service", "d2": "micro-deadline", "d3": "micro-correlation-id", "d3bis": "micro-correlation-id"} {
		r := replies[id]
		want := `header "` + key + `" appears more than once`
		if r == nil || header(r, "micro-error-code") != "3" || header(r, "micro-error") != want {
			t.Errorf("reply %s = %v, want InvalidArgument %q", id, r, want)
		}
	}
	if replies["d4"] != nil || len(other) != 0 {
		t.Errorf("a record naming two reply topics was answered: %v, %v", replies["d4"], other)
	}
	if len(dead) != 1 || string(dead[0].Value) != "reply-to" || header(dead[0], "micro-error-code") != "3" {
		t.Errorf("dead letters = %v, want the record naming two reply topics, InvalidArgument", dead)
	}
	ran.Range(func(k, _ any) bool {
		t.Errorf("handler %v ran for a refused record", k)
		return true
	})
}
