package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	microkafka "github.com/dancinggopher/micro/transport/kafka"
)

// partitions is the number of partitions of every benchmark topic.
const partitions = 4

// kafkaCluster starts an in-process Kafka cluster (kfake) until the
// benchmark ends. Topics are created on first use with 4 partitions.
func kafkaCluster(b *testing.B) *kfake.Cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// rawKafkaOptions are the kgo options that the raw baselines share with
// micro's transport, so that both produce and fetch alike: no linger (kgo's
// default is 10 ms, which a synchronous producer waits out on every record)
// and a fetch wait of 500 ms. Producing creates a missing topic, as micro's
// Server does with WithCreateTopics.
func rawKafkaOptions(c *kfake.Cluster, more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ProducerLinger(0),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.AllowAutoTopicCreation(),
	}, more...)
}

// startMicroKafka serves mux over Kafka in the consumer group "bench" until
// the benchmark ends.
func startMicroKafka(b *testing.B, c *kfake.Cluster, mux *micro.Mux) {
	srv := microkafka.NewServer(mux, microkafka.WithBrokers(c.ListenAddrs()...),
		microkafka.WithGroup("bench"), microkafka.WithCreateTopics(partitions))
	startServer(b, srv, srv.Ready())
}

// rawConsume consumes topic in a consumer group as franz-go documents for
// at-least-once delivery, until the benchmark ends: poll, call handle for
// each record in order, mark it, and let kgo commit the marks.
func rawConsume(b *testing.B, c *kfake.Cluster, topic, group string, handle func(*kgo.Record)) {
	cl, err := kgo.NewClient(rawKafkaOptions(c,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.BlockRebalanceOnPoll(), kgo.AutoCommitMarks())...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				cl.AllowRebalance()
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				handle(r)
				cl.MarkCommitRecords(r)
			})
			cl.AllowRebalance()
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		cl.CommitMarkedOffsets(context.Background())
		cl.Close()
	})
}

// BenchmarkSendKafka compares one-way messages over Kafka (kfake, 4
// partitions), from a producer that waits for the broker's ack until a
// consumer-group handler counted the message:
//
//   - impl=micro: micro's Kafka Client.Send to its Server's handler.
//   - impl=raw: franz-go's ProduceSync (acks=all, idempotent, no linger) to
//     a franz-go group consumer that handles and marks each record.
//   - impl=watermill: watermill-kafka's Publisher (Sarama's SyncProducer) to
//     a Router with one handler on its consumer-group Subscriber.
func BenchmarkSendKafka(b *testing.B) {
	c := kafkaCluster(b)
	b.Run("transport=kafka/impl=micro", func(b *testing.B) {
		s := newSink()
		mux := micro.NewMux()
		mux.HandleFunc("micro", "echo", func(context.Context, []byte) ([]byte, error) {
			s.handled()
			return nil, nil
		})
		startMicroKafka(b, c, mux)
		cl, err := microkafka.NewClient(microkafka.WithBrokers(c.ListenAddrs()...))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cl.Close() })
		benchSend(b, s, func(ctx context.Context, msg []byte) error {
			return cl.Send(ctx, "micro", "echo", msg)
		})
	})
	b.Run("transport=kafka/impl=raw", func(b *testing.B) {
		s := newSink()
		rawConsume(b, c, "raw", "raw", func(*kgo.Record) { s.handled() })
		p, err := kgo.NewClient(rawKafkaOptions(c)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		benchSend(b, s, func(ctx context.Context, msg []byte) error {
			return p.ProduceSync(ctx, &kgo.Record{Topic: "raw", Value: msg}).FirstErr()
		})
	})
	b.Run("transport=kafka/impl=watermill", func(b *testing.B) {
		s := newSink()
		subCfg := wmkafka.DefaultSaramaSubscriberConfig()
		subCfg.Version = saramaVersion
		subCfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		sub, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
			Brokers: c.ListenAddrs(), Unmarshaler: wmkafka.DefaultMarshaler{},
			OverwriteSaramaConfig: subCfg, ConsumerGroup: "watermill",
		}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		runRouter(b, sub, "watermill", s)
		pubCfg := wmkafka.DefaultSaramaSyncPublisherConfig()
		pubCfg.Version = saramaVersion
		pub, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
			Brokers: c.ListenAddrs(), Marshaler: wmkafka.DefaultMarshaler{}, OverwriteSaramaConfig: pubCfg,
		}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pub.Close() })
		benchSend(b, s, func(_ context.Context, msg []byte) error {
			return pub.Publish("watermill", message.NewMessage(watermill.NewUUID(), msg))
		})
	})
}

// saramaVersion is the Kafka protocol version Watermill's Sarama clients
// speak to kfake; Watermill's default, 1.0, is older than kfake serves.
var saramaVersion = sarama.V2_8_0_0

// BenchmarkConsumeKafka compares the consuming side alone: b.N records
// (with micro's route header) are produced to a new topic before the
// consumer starts, then a new consumer group reads them all. ns/op, B/op
// and allocs/op are measured from the first record handled to the last, so
// the group join is not counted:
//
//   - impl=micro: micro's Kafka Server with an echo handler that counts.
//   - impl=raw: the franz-go group consumer of BenchmarkSendKafka.
func BenchmarkConsumeKafka(b *testing.B) {
	c := kafkaCluster(b)
	p, err := kgo.NewClient(rawKafkaOptions(c, kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	run := 0
	for _, impl := range []string{"micro", "raw"} {
		for _, size := range sizes {
			b.Run("transport=kafka/impl="+impl+"/size="+size.name+"/mode=seq", func(b *testing.B) {
				b.ReportAllocs()
				b.StopTimer()
				run++
				topic := fmt.Sprintf("consume-%s-%d", impl, run)
				fill(b, p, topic, size.n)
				m := newMeter(b.N)
				b.StartTimer()
				switch impl {
				case "micro":
					mux := micro.NewMux()
					mux.HandleFunc(topic, "echo", func(context.Context, []byte) ([]byte, error) {
						m.handled()
						return nil, nil
					})
					startMicroKafka(b, c, mux)
				case "raw":
					rawConsume(b, c, topic, topic, func(*kgo.Record) { m.handled() })
				}
				m.wait(b)
				b.StopTimer()
				m.report(b)
			})
		}
	}
}

// fill produces n records of size bytes to topic, with micro's route header.
func fill(b *testing.B, p *kgo.Client, topic string, size int) {
	value := make([]byte, size)
	hdr := []kgo.RecordHeader{{Key: "micro-service", Value: []byte("echo")}}
	errs := make(chan error, 1)
	for range b.N {
		p.Produce(context.Background(), &kgo.Record{Topic: topic, Value: value, Headers: hdr}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// meter times the handling of n records, from the first to the last, with
// the memory allocated meanwhile.
type meter struct {
	n      int64
	got    atomic.Int64
	start  time.Time
	end    time.Time
	m0, m1 runtime.MemStats
	done   chan struct{}
}

func newMeter(n int) *meter { return &meter{n: int64(n), done: make(chan struct{})} }

func (m *meter) handled() {
	switch m.got.Add(1) {
	case 1:
		runtime.ReadMemStats(&m.m0)
		m.start = time.Now()
		if m.n == 1 {
			m.end = m.start
			close(m.done)
		}
	case m.n:
		m.end = time.Now()
		runtime.ReadMemStats(&m.m1)
		close(m.done)
	}
}

func (m *meter) wait(b *testing.B) {
	select {
	case <-m.done:
	case <-time.After(waitFor):
		b.Fatalf("%d of %d records handled after %v", m.got.Load(), m.n, waitFor)
	}
}

// report replaces the benchmark's per-op figures by those of the records
// after the first, when there are any.
func (m *meter) report(b *testing.B) {
	if m.n < 2 {
		return
	}
	n := float64(m.n - 1)
	d := m.end.Sub(m.start)
	b.ReportMetric(float64(d.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(m.m1.TotalAlloc-m.m0.TotalAlloc)/n, "B/op")
	b.ReportMetric(float64(m.m1.Mallocs-m.m0.Mallocs)/n, "allocs/op")
	b.ReportMetric(n/d.Seconds(), "msgs/s")
}
