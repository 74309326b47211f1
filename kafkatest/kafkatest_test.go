package kafkatest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/kafkatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func client(t *testing.T, kc *kafkatest.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(kc.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// consume returns the values of the first n records of topic.
func consume(t *testing.T, kc *kafkatest.Cluster, topic string, n int) []string {
	t.Helper()
	cl := client(t, kc, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func TestStart(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithTopics(3, "work"), kafkatest.WithTopics(1, "replies"))
	if addrs := kc.Addrs(); len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") || kc.SeedBrokers() != addrs[0] {
		t.Fatalf("Addrs %v, SeedBrokers %q", addrs, kc.SeedBrokers())
	}
	for topic, want := range map[string]int{"work": 3, "replies": 1} {
		if info := kc.Kfake().TopicInfo(topic); info == nil || len(kc.Kfake().PartitionInfos(topic)) != want {
			t.Errorf("topic %s: %v partitions, want %d", topic, kc.Kfake().PartitionInfos(topic), want)
		}
	}
	if err := client(t, kc).ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consume(t, kc, "work", 1); got[0] != "x" {
		t.Errorf("consumed %q", got)
	}
}

func TestNumBrokers(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithNumBrokers(3))
	if n := len(kc.Addrs()); n != 3 {
		t.Fatalf("%d brokers, want 3", n)
	}
	if got, want := kc.SeedBrokers(), strings.Join(kc.Addrs(), ","); got != want {
		t.Errorf("SeedBrokers = %q, want %q", got, want)
	}
}

func TestMaxMessageBytes(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithTopics(1, "big"), kafkatest.WithMaxMessageBytes(4<<20))
	cl := client(t, kc, kgo.ProducerBatchMaxBytes(5<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "big", Value: make([]byte, 2<<20)}).FirstErr(); err != nil {
		t.Fatalf("2 MiB record under a 4 MiB limit: %v", err)
	}
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "big", Value: make([]byte, 4<<20+1)}).FirstErr(); err == nil {
		t.Fatal("a record over the limit was accepted")
	}
}

func TestClusterOptions(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithClusterOptions(kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2)))
	cl := client(t, kc, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if n := len(kc.Kfake().PartitionInfos("auto")); n != 2 {
		t.Errorf("auto-created topic has %d partitions, want 2", n)
	}
}

// TestRestart restarts a cluster on a data directory under a client: the
// records are kept and the client carries on.
func TestRestart(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithTopics(2, "work"), kafkatest.WithDataDir(t.TempDir()))
	addrs := kc.Addrs()
	cl := client(t, kc)
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kc.Shutdown()
	kc.Shutdown() // a second does nothing
	if _, err := net.Dial("tcp", addrs[0]); err == nil {
		t.Error("broker accepts connections after Shutdown")
	}
	if err := kc.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := kc.Addrs(); got[0] != addrs[0] {
		t.Errorf("restarted on %v, want %v", got, addrs)
	}
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consume(t, kc, "work", 2); len(got) != 2 {
		t.Errorf("consumed %q, want the records from before and after", got)
	}

	kc.Close()
	kc.Close()
	if err := kc.Restart(); !errors.Is(err, kafkatest.ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}

// TestRestartInMemory loses the records but keeps the seeded topics.
func TestRestartInMemory(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithTopics(2, "work"))
	if err := client(t, kc).ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte("lost")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := kc.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := len(kc.Kfake().PartitionInfos("work")); n != 2 {
		t.Fatalf("after restart: %d partitions, want 2", n)
	}
	for _, p := range kc.Kfake().PartitionInfos("work") {
		if p.HighWatermark != 0 {
			t.Errorf("partition %d has high watermark %d after restart, want 0", p.Partition, p.HighWatermark)
		}
	}
}

func TestNew(t *testing.T) {
	kc, err := kafkatest.New()
	if err != nil {
		t.Fatal(err)
	}
	addr := kc.Addrs()[0]
	kc.Close()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("broker accepts connections after Close")
	}
}

// TestNoBrokerInTransport checks that a program importing micro's Kafka
// transport does not link kfake: only this package does.
func TestNoBrokerInTransport(t *testing.T) {
	testutil.NotLinked(t, "github.com/dancinggopher/micro/transport/kafka", "github.com/twmb/franz-go/pkg/kfake", "github.com/dancinggopher/micro/kafkatest")
}

// TestCrash kills a cluster under a client and starts it on what its data
// directory held: the records produced before are there, and the client
// goes on.
func TestCrash(t *testing.T) {
	kc := kafkatest.Start(t, kafkatest.WithDataDir(t.TempDir()), kafkatest.WithTopics(1, "work"))
	cl := client(t, kc)
	for _, v := range []string{"a", "b"} {
		if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := kc.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "work", Value: []byte("c")}).FirstErr(); err != nil {
		t.Fatalf("produce after the crash: %v", err)
	}
	if got := strings.Join(consume(t, kc, "work", 3), ""); got != "abc" {
		t.Errorf("records after the crash %q, want abc", got)
	}
	if err := kafkatest.Start(t).Crash(); err == nil {
		t.Error("Crash in memory succeeded, want an error")
	}
}
