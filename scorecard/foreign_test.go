package scorecard_test

import (
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
	"github.com/dancinggopher/micro/transport/nats"
)

// foreignCodes are error codes a responder that is not micro may put in
// the error headers, and the code the caller must see: a micro code as it
// is, anything else (no number, a number outside micro's range, or 0, which
// would make a failed call read as OK) as Unknown.
var foreignCodes = []struct {
	wire string
	want micro.Code
}{
	{"5", micro.NotFound},
	{"16", micro.Unauthenticated},
	{"0", micro.Unknown},
	{"17", micro.Unknown},
	{"500", micro.Unknown},
	{"-1", micro.Unknown},
	{"x", micro.Unknown},
	{"", micro.Unknown},
}

// TestForeignErrorCodes answers a NATS and a Kafka client's calls from a
// responder written with the raw client library, as a service in another
// language would, with each of foreignCodes in the error headers. The call
// must fail with a *micro.Error of the expected code, never with OK.
func TestForeignErrorCodes(t *testing.T) {
	t.Run("nats", func(t *testing.T) {
		t.Parallel()
		ns := runNATS(t)
		nc, err := natsgo.Connect(ns.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		sub, err := nc.Subscribe("foreign.svc", func(m *natsgo.Msg) {
			r := natsgo.NewMsg(m.Reply)
			r.Header.Set("Nats-Service-Error-Code", string(m.Data))
			r.Header.Set("Nats-Service-Error", "foreign failure")
			_ = m.RespondMsg(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		cl, err := nats.NewClient(nats.WithURL(ns.URL()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		checkForeign(t, "nats", cl)
	})
	t.Run("kafka", func(t *testing.T) {
		t.Parallel()
		c := kafkatest.Start(t, kafkatest.WithTopics(1, "foreign"))
		raw, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("foreign"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { // the foreign responder
			defer close(done)
			for {
				fs := raw.PollFetches(ctx)
				if ctx.Err() != nil {
					return
				}
				fs.EachRecord(func(r *kgo.Record) {
					var to string
					rep := &kgo.Record{}
					for _, h := range r.Headers {
						switch h.Key {
						case "micro-reply-to":
							to = string(h.Value)
						case "micro-correlation-id":
							rep.Headers = append(rep.Headers, h)
						}
					}
					rep.Topic = to
					rep.Headers = append(rep.Headers,
						kgo.RecordHeader{Key: "micro-error-code", Value: r.Value},
						kgo.RecordHeader{Key: "micro-error", Value: []byte("foreign failure")})
					_ = raw.ProduceSync(ctx, rep).FirstErr()
				})
			}
		}()
		defer func() { cancel(); <-done; raw.Close() }()
		cl, err := kafka.NewClient(kafka.WithBrokers(c.Addrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		checkForeign(t, "kafka", cl)
	})
}

func checkForeign(t *testing.T, transport string, cl micro.Client) {
	for _, fc := range foreignCodes {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := cl.Call(ctx, "foreign", "svc", []byte(fc.wire))
		cancel()
		if err == nil || micro.CodeOf(err) != fc.want {
			report := t.Errorf
			if bug, ok := knownBugs[transport+"/foreign-code-"+fc.wire]; ok {
				report = func(format string, args ...any) { t.Logf("known bug ("+bug+"): "+format, args...) }
			}
			report("error code %q on the wire: %v (code %v), want %v", fc.wire, err, micro.CodeOf(err), fc.want)
		}
	}
}
