package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	microkafka "github.com/dancinggopher/micro/transport/kafka"
)

// partitions is the number of partitions of every benchmark topic.
const partitions = 4

// kafkaCluster starts an in-process Kafka cluster (kfake) until the
// benchmark ends. Topics are created on first use with 4 partitions.
func kafkaCluster(b *testing.B) *kafkatest.Cluster {
	return kafkatest.Start(b, kafkatest.WithClusterOptions(kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions)))
}

// rawKafkaOptions are the kgo options that the raw baselines share with
// micro's transport, so that both produce and fetch alike: no linger (kgo's
// default is 10 ms, which a synchronous producer waits out on every record),
// records without a key spread over the partitions in turn, and a fetch
// wait of 500 ms. Producing creates a missing topic, as micro's Server does
// with WithCreateTopics.
func rawKafkaOptions(c *kafkatest.Cluster, more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.AllowAutoTopicCreation(),
	}, more...)
}

// startMicroKafka serves mux over Kafka in the consumer group "bench" until
// the benchmark ends.
func startMicroKafka(b *testing.B, c *kafkatest.Cluster, mux *micro.Mux) {
	srv := microkafka.NewServer(mux, microkafka.WithBrokers(c.Addrs()...),
		microkafka.WithGroup("bench"), microkafka.WithCreateTopics(partitions))
	startServer(b, srv, srv.Ready())
}

// rawConsume consumes topic in a consumer group until the benchmark ends,
// in franz-go's recommended at-least-once loop doing what micro's Server
// does: poll up to 1000 records with rebalances blocked, handle each record
// in order, mark it, and commit the marks in the background soon after
// (and on revoke).
func rawConsume(b *testing.B, c *kafkatest.Cluster, topic, group string, handle func(*kgo.Record)) {
	wake := make(chan struct{}, 1)
	cl, err := kgo.NewClient(rawKafkaOptions(c,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.BlockRebalanceOnPoll(), kgo.AutoCommitMarks(),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			_ = cl.CommitMarkedOffsets(ctx)
		}))...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				_ = cl.CommitMarkedOffsets(ctx)
			}
		}
	})
	wg.Go(func() {
		defer cl.AllowRebalance()
		for {
			fs := cl.PollRecords(ctx, 1000)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				handle(r)
				cl.MarkCommitRecords(r)
				select {
				case wake <- struct{}{}:
				default:
				}
			})
			cl.AllowRebalance()
		}
	})
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cl.CommitMarkedOffsets(context.Background())
		cl.Close()
	})
}

// BenchmarkSendKafka compares one-way messages over Kafka (kfake, 4
// partitions), from a producer that waits for the broker's ack until a
// consumer-group handler counted the message:
//
//   - impl=micro: micro's Kafka Client.Send to its Server's handler.
//   - impl=raw: franz-go's ProduceSync (acks=all, idempotent, no linger) to
//     a franz-go group consumer that handles, marks and commits each record.
//   - impl=watermill: watermill-kafka's Publisher (Sarama's SyncProducer) to
//     a Router with one handler on its consumer-group Subscriber.
func BenchmarkSendKafka(b *testing.B) {
	c := kafkaCluster(b)
	b.Run("transport=kafka/impl=micro", func(b *testing.B) {
		s := newSink()
		startMicroKafka(b, c, countingMux("micro", s))
		cl, err := microkafka.NewClient(microkafka.WithBrokers(c.Addrs()...))
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
			Brokers: c.Addrs(), Unmarshaler: wmkafka.DefaultMarshaler{},
			OverwriteSaramaConfig: subCfg, ConsumerGroup: "watermill",
		}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		runRouter(b, sub, "watermill", s)
		pubCfg := wmkafka.DefaultSaramaSyncPublisherConfig()
		pubCfg.Version = saramaVersion
		pub, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
			Brokers: c.Addrs(), Marshaler: wmkafka.DefaultMarshaler{}, OverwriteSaramaConfig: pubCfg,
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
// speak to kfake: a current one, as a user of a current cluster would set.
// Watermill's default, 1.0, works against kfake too.
var saramaVersion = sarama.V2_8_0_0

// BenchmarkConsumeKafka compares the consuming side alone, draining a
// backlog, with consumeBacklog (4 partitions, one consumer):
//
//   - impl=micro: micro's Kafka Server with a handler that counts.
//   - impl=window: the same with a commit window ten times the default
//     (WithCommitWindow), which raises the bound on re-delivered records
//     with it: what the default window costs.
//   - impl=raw: the franz-go group consumer of BenchmarkSendKafka.
func BenchmarkConsumeKafka(b *testing.B) {
	for _, impl := range []string{"micro", "window", "raw"} {
		for _, size := range sizes {
			b.Run("transport=kafka/impl="+impl+"/size="+size.name+"/mode=seq", func(b *testing.B) {
				consumeBacklog(b, impl, size.n, partitions, 1)
			})
		}
	}
}

// BenchmarkScaleConsumeKafka is BenchmarkConsumeKafka's backlog of 64 B
// records against the number of partitions of the topic (1, 4, 16, 64)
// with one consumer (servers=1), and on 16 partitions with three
// consumers in one group (servers=3): micro's Servers beside raw franz-go
// group consumers.
func BenchmarkScaleConsumeKafka(b *testing.B) {
	type point struct{ servers, partitions int }
	points := []point{{1, 1}, {1, 4}, {1, 16}, {1, 64}, {3, 16}}
	for _, impl := range []string{"micro", "raw"} {
		for _, pt := range points {
			b.Run(fmt.Sprintf("transport=kafka/impl=%s/size=64B/servers=%d/partitions=%d", impl, pt.servers, pt.partitions), func(b *testing.B) {
				consumeBacklog(b, impl, scaleSize, pt.partitions, pt.servers)
			})
		}
	}
}

// consumeBacklog times servers consumers of impl (micro or raw) in one new
// group draining a backlog of b.N records of size bytes on a topic of
// parts partitions. The consumers first join and the group settles with
// every partition assigned; then a gate record goes to the head of each
// partition, on which the handler blocks, and the b.N records (with
// micro's route header, spread evenly over the partitions) are produced
// behind the gates. The timer runs from opening the gates until the last
// record was handled, so it counts fetching, decoding, dispatching and
// committing the backlog, but not the group join or the producer.
func consumeBacklog(b *testing.B, impl string, size, parts, servers int) {
	b.ReportAllocs()
	b.StopTimer()
	const topic, group = "consume", "bench"
	// One cluster per run, so that no run holds the records of the last.
	c := kafkatest.Start(b, kafkatest.WithTopics(int32(parts), topic))
	p, err := kgo.NewClient(rawKafkaOptions(c,
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()

	s := &sink{} // no window: the backlog is all of it
	s.arm(b.N)
	gate, entered := make(chan struct{}), make(chan int, parts)
	open := sync.OnceFunc(func() { close(gate) })
	defer open() // if the benchmark fails
	for i := range servers {
		handle := func(v []byte) {
			if len(v) == 1 && v[0] == gateRecord {
				entered <- i
				<-gate
				return
			}
			s.handled()
		}
		switch impl {
		case "micro", "window":
			mux := micro.NewMux()
			mux.HandleFunc(topic, "echo", func(_ context.Context, v []byte) ([]byte, error) {
				handle(v)
				return nil, nil
			})
			opts := []microkafka.ServerOption{microkafka.WithBrokers(c.Addrs()...), microkafka.WithGroup(group)}
			if impl == "window" {
				opts = append(opts, microkafka.WithCommitWindow(10*microkafka.DefaultCommitWindow))
			}
			srv := microkafka.NewServer(mux, opts...)
			startServer(b, srv, srv.Ready())
		case "raw":
			rawConsume(b, c, topic, group, func(r *kgo.Record) { handle(r.Value) })
		default:
			b.Fatalf("unknown Kafka impl %q", impl)
		}
	}
	awaitGroup(b, p, group, servers, parts)
	produce(b, p, topic, parts, parts, []byte{gateRecord})
	deadline := time.After(waitFor)
	for seen := map[int]bool{}; len(seen) < servers; {
		select {
		case i := <-entered:
			seen[i] = true
		case <-deadline:
			b.Fatalf("%d of %d consumers started", len(seen), servers)
		}
	}
	produce(b, p, topic, parts, b.N, make([]byte, size))

	b.StartTimer()
	open()
	s.wait(b)
	b.StopTimer()
	reportRate(b)
}

// awaitGroup waits until group is stable with members members that hold
// all parts partitions between them, so that no rebalance runs while a
// consumer blocks on a gate record.
func awaitGroup(b *testing.B, cl *kgo.Client, group string, members, parts int) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	state := "not described"
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(context.Background(), cl)
		if err == nil && len(resp.Groups) == 1 {
			g := resp.Groups[0]
			assigned := 0
			for _, m := range g.Members {
				var a kmsg.ConsumerMemberAssignment
				if a.ReadFrom(m.MemberAssignment) == nil {
					for _, t := range a.Topics {
						assigned += len(t.Partitions)
					}
				}
			}
			if g.State == "Stable" && len(g.Members) == members && assigned == parts {
				return
			}
			state = fmt.Sprintf("%s with %d members holding %d partitions", g.State, len(g.Members), assigned)
		}
		select {
		case <-tick.C:
		case <-deadline:
			b.Fatalf("group %s: %s after %v, want Stable with %d members holding %d partitions", group, state, waitFor, members, parts)
		}
	}
}

// gateRecord is the value of BenchmarkConsumeKafka's gate records.
const gateRecord = 0xff

// produce produces n records of value to topic, spread in turn over its
// parts partitions, with micro's route header, and waits for the broker's
// acks.
func produce(b *testing.B, p *kgo.Client, topic string, parts, n int, value []byte) {
	hdr := []kgo.RecordHeader{{Key: "micro-service", Value: []byte("echo")}}
	errs := make(chan error, 1)
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i % parts), Value: value, Headers: hdr}
		p.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
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
