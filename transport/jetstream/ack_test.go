package jetstream

import (
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro/natstest"
)

// TestParseAck reads acknowledgement subjects as nats.go's Metadata does:
// a message of a real server, the older form of the subject, and subjects
// that are not acknowledgement subjects.
func TestParseAck(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	ctx := context.Background()
	st, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "pa", Subjects: []string{"pa.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "pa.x", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, natsjs.ConsumerConfig{Durable: "pa", AckPolicy: natsjs.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, natsjs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		want, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		var got natsjs.MsgMetadata
		if !parseAck(m.Reply(), &got) {
			t.Fatalf("parseAck(%q) = false", m.Reply())
		}
		if got != *want {
			t.Fatalf("parseAck(%q) = %+v; want %+v", m.Reply(), got, *want)
		}
	}
	if n != 3 {
		t.Fatalf("fetched %d messages; want 3", n)
	}

	var got natsjs.MsgMetadata
	if !parseAck("$JS.ACK.S.C.2.10.7.1700000000000000000.5", &got) {
		t.Fatal("old form not read")
	}
	want := natsjs.MsgMetadata{Sequence: natsjs.SequencePair{Stream: 10, Consumer: 7}, NumDelivered: 2, NumPending: 5,
		Timestamp: time.Unix(0, 1700000000000000000), Stream: "S", Consumer: "C"}
	if got != want {
		t.Fatalf("old form: %+v; want %+v", got, want)
	}
	if !parseAck("$JS.ACK.hub.HASH.S.C.2.10.7.1700000000000000000.5.tok", &got) || got.Domain != "hub" || got.Stream != "S" || got.NumPending != 5 {
		t.Fatalf("new form with a domain: %+v", got)
	}
	for _, bad := range []string{"", "_INBOX.x", "$JS.ACK.S.C.2.10.7.1", "$JS.ACK.S.C.x.10.7.1.5", "$JS.ACK.a.b.S.C.2.10.7.1"} {
		if parseAck(bad, &got) {
			t.Errorf("parseAck(%q) = true", bad)
		}
	}
}
