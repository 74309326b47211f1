package kafka_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// Each benchmark runs the transport (impl=micro) beside franz-go doing the
// same work by hand (impl=raw), on the same in-process kfake cluster, so the
// transport's overhead is the ratio of the two:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./transport/kafka/ > /tmp/kafka-bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl /tmp/kafka-bench.txt

const benchPartitions = 4

var payload = make([]byte, 64)

func benchCluster(b *testing.B) *kafkatest.Cluster {
	return kafkatest.Start(b, kafkatest.WithTopics(benchPartitions, "bench", "bench4k", "rawcall"), kafkatest.WithTopics(1, "replies"))
}

// rawOpts are the producer settings the transport uses.
func rawOpts(c *kafkatest.Cluster, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, extra...)
}

func newRaw(b *testing.B, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

func request(value []byte) *kgo.Record { return requestTo("bench", value) }

func requestTo(topic string, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Value: value, Headers: []kgo.RecordHeader{{Key: "micro-service", Value: []byte("count")}}}
}

// BenchmarkSend produces one record and waits for the broker's ack:
// Client.Send against kgo's ProduceSync, one at a time and in parallel.
// Both clients are set up once, outside the runs.
func BenchmarkSend(b *testing.B) {
	c := benchCluster(b)
	cl := newClient(b, c)
	raw := newRaw(b, rawOpts(c)...)
	microSend := func(ctx context.Context) error { return cl.Send(ctx, "bench", "count", payload) }
	rawSend := func(ctx context.Context) error { return raw.ProduceSync(ctx, request(payload)).FirstErr() }
	for _, send := range []func(context.Context) error{microSend, rawSend} {
		warm(b, func(ctx context.Context) (err error) { return send(ctx) })
	}
	for _, mode := range []string{"seq", "par"} {
		b.Run("impl=micro/mode="+mode, func(b *testing.B) {
			runSend(b, mode, microSend)
		})
		b.Run("impl=raw/mode="+mode, func(b *testing.B) {
			runSend(b, mode, rawSend)
		})
	}
}

func runSend(b *testing.B, mode string, send func(context.Context) error) {
	ctx := context.Background()
	if err := send(ctx); err != nil { // warm: connections, metadata, producer id
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if mode == "seq" {
		for range b.N {
			if err := send(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := send(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkConsume handles b.N records produced beforehand, commits
// included: a Server against a kgo group poll loop that calls the same
// handler, marks each record and commits the marks in the background. Each
// run joins a new group with the timer stopped; the handler holds the first
// records until the timer starts, so the time is that of handling only.
// It runs with 64 B and 4 KiB payloads, each on a topic of its own (a new
// group reads its topic from the start).
func BenchmarkConsume(b *testing.B) {
	c := benchCluster(b)
	producer := newRaw(b, kgo.SeedBrokers(c.Addrs()...))
	var round atomic.Int64
	for _, size := range consumeSizes {
		value := make([]byte, size.n)
		setup := func(b *testing.B) (group string, h *countHandler) {
			b.Helper()
			b.StopTimer()
			produceN(b, producer, size.topic, value, b.N)
			return "bench-" + strconv.FormatInt(round.Add(1), 10), newCountHandler(b.N)
		}
		b.Run("size="+size.name+"/impl=micro", func(b *testing.B) {
			group, h := setup(b)
			mux := micro.NewMux()
			mux.HandleFunc(size.topic, "count", h.handle)
			r := serve(b, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup(group))
			h.run(b)
			if err := r.stop(b, 30*time.Second); err != nil {
				b.Fatal(err)
			}
		})
		b.Run("size="+size.name+"/impl=raw", func(b *testing.B) {
			group, h := setup(b)
			rawConsume(b, c, size.topic, group, h)
			h.run(b)
		})
	}
}

// consumeSizes are the payloads of the consume benchmarks, each on a
// topic of its own.
var consumeSizes = []struct {
	name, topic string
	n           int
}{{"64B", "bench", 64}, {"4KiB", "bench4k", 4 << 10}}

// consumeRound is how many records each side of
// BenchmarkConsumeInterleaved handles in one round.
const consumeRound = 200_000

// BenchmarkConsumeInterleaved runs BenchmarkConsume's two sides
// alternately, b.N rounds of consumeRound records each, so that both see
// the same machine load, and reports each side's records/s over all its
// rounds and their ratio (micro/raw). Run it with a few rounds:
//
//	go test -run '^$' -bench ConsumeInterleaved -benchtime 6x ./transport/kafka/
func BenchmarkConsumeInterleaved(b *testing.B) {
	c := benchCluster(b)
	producer := newRaw(b, kgo.SeedBrokers(c.Addrs()...))
	var round atomic.Int64
	for _, size := range consumeSizes {
		value := make([]byte, size.n)
		b.Run("size="+size.name, func(b *testing.B) {
			var took [2]time.Duration // micro, raw
			for range b.N {
				for side := range took {
					produceN(b, producer, size.topic, value, consumeRound)
					group := "inter-" + strconv.FormatInt(round.Add(1), 10)
					h := newCountHandler(consumeRound)
					var stop func()
					if side == 0 {
						mux := micro.NewMux()
						mux.HandleFunc(size.topic, "count", h.handle)
						r := serve(b, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup(group))
						stop = func() {
							if err := r.stop(b, 30*time.Second); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						stop = rawConsume(b, c, size.topic, group, h)
					}
					took[side] += h.timed(b)
					stop()
				}
			}
			n := float64(b.N * consumeRound)
			b.ReportMetric(n/took[0].Seconds(), "micro-records/s")
			b.ReportMetric(n/took[1].Seconds(), "raw-records/s")
			b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "micro/raw")
		})
	}
}

// produceN produces n records of value to topic and waits for them.
func produceN(b *testing.B, producer *kgo.Client, topic string, value []byte, n int) {
	b.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		producer.Produce(context.Background(), requestTo(topic, value), func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
}

// countHandler is the benchmarks' handler: it counts records until n. Its
// first call waits for the gate.
type countHandler struct {
	n, seen atomic.Int64
	entered chan struct{} // closed at the first call
	gate    chan struct{} // closed when the timer starts
	done    chan struct{} // closed at the n-th call
	once    sync.Once
}

func newCountHandler(n int) *countHandler {
	h := &countHandler{entered: make(chan struct{}), gate: make(chan struct{}), done: make(chan struct{})}
	h.n.Store(int64(n))
	return h
}

func (h *countHandler) handle(_ context.Context, req []byte) ([]byte, error) {
	h.once.Do(func() { close(h.entered) })
	<-h.gate
	if h.seen.Add(1) == h.n.Load() {
		close(h.done)
	}
	return req, nil
}

// timed waits for the consumer's first record, then returns how long the
// handling of all of them took.
func (h *countHandler) timed(b *testing.B) time.Duration {
	b.Helper()
	timeout := time.After(5 * time.Minute)
	select {
	case <-h.entered:
	case <-timeout:
		b.Fatal("no record handled")
	}
	start := time.Now()
	close(h.gate)
	select {
	case <-h.done:
	case <-timeout:
		b.Fatalf("handled %d of %d records", h.seen.Load(), h.n.Load())
	}
	return time.Since(start)
}

// run waits for the consumer's first record, then times the handling of
// all of them.
func (h *countHandler) run(b *testing.B) {
	b.Helper()
	timeout := time.After(5 * time.Minute)
	select {
	case <-h.entered:
	case <-timeout:
		b.Fatal("no record handled")
	}
	b.ReportAllocs()
	b.StartTimer()
	start := time.Now()
	close(h.gate)
	select {
	case <-h.done:
	case <-timeout:
		b.Fatalf("handled %d of %d records", h.seen.Load(), h.n.Load())
	}
	b.StopTimer()
	b.ReportMetric(float64(h.n.Load())/time.Since(start).Seconds(), "records/s")
}

// rawConsume runs franz-go's recommended at-least-once loop until the
// returned stop, or b's end: poll with rebalances blocked, handle each
// record, mark it, commit marks in the background and on revoke.
func rawConsume(b *testing.B, c *kafkatest.Cluster, topic, group string, h *countHandler) (stop func()) {
	wake := make(chan struct{}, 1)
	cl, err := kgo.NewClient(rawOpts(c,
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
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			_ = cl.CommitMarkedOffsets(context.Background())
			cl.Close()
		})
	}
	b.Cleanup(stop)
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
		pollLoop(ctx, cl, func(r *kgo.Record) {
			_, _ = h.handle(ctx, r.Value)
			cl.MarkCommitRecords(r)
			select {
			case wake <- struct{}{}:
			default:
			}
		}, nil)
	})
	return stop
}

// pollLoop polls cl with rebalances blocked until ctx ends, calling each
// for every record, then after (if not nil) before allowing rebalances.
func pollLoop(ctx context.Context, cl *kgo.Client, each func(*kgo.Record), after func()) {
	defer cl.AllowRebalance()
	for {
		fs := cl.PollRecords(ctx, kafka.PollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachRecord(each)
		if after != nil {
			after()
		}
		cl.AllowRebalance()
	}
}

// BenchmarkCall makes one request-reply call at a time: Client.Call
// against a hand-written kgo requester (a producer, a consumer of its reply
// topic and a map of correlation ids) and responder (a group poll loop that
// produces each reply, then marks and commits). Both pairs are set up once,
// outside the runs.
func BenchmarkCall(b *testing.B) {
	call, raw := callPair(b)
	b.Run("impl=micro", func(b *testing.B) { runCalls(b, call) })
	b.Run("impl=raw", func(b *testing.B) { runCalls(b, raw) })
}

// BenchmarkCallInterleaved alternates the calls of BenchmarkCall's two
// pairs, so that both see the same load on a shared, noisy machine, and
// reports the median and 90th percentile latency of each.
func BenchmarkCallInterleaved(b *testing.B) {
	call, raw := callPair(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lat := [2][]time.Duration{make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)}
	b.ResetTimer()
	for range b.N {
		for i, f := range []func(context.Context) ([]byte, error){call, raw} {
			start := time.Now()
			if _, err := f(ctx); err != nil {
				b.Fatal(err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	b.StopTimer()
	for i, impl := range []string{"micro", "raw"} {
		slices.Sort(lat[i])
		b.ReportMetric(float64(lat[i][len(lat[i])/2].Nanoseconds()), impl+"-p50-ns")
		b.ReportMetric(float64(lat[i][len(lat[i])*9/10].Nanoseconds()), impl+"-p90-ns")
	}
}

// callPair starts a Server and a Client, and the raw responder and
// requester, and warms both.
func callPair(b *testing.B) (call, raw func(context.Context) ([]byte, error)) {
	c := benchCluster(b)
	mux := micro.NewMux()
	mux.HandleFunc("bench", "count", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	serve(b, mux, kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("call-micro"))
	cl := newClient(b, c)
	call = func(ctx context.Context) ([]byte, error) { return cl.Call(ctx, "bench", "count", payload) }
	rawResponder(b, c, "call-raw")
	raw = rawRequester(b, c)
	for _, f := range []func(context.Context) ([]byte, error){call, raw} {
		warm(b, func(ctx context.Context) error { _, err := f(ctx); return err })
	}
	return call, raw
}

func runCalls(b *testing.B, call func(context.Context) ([]byte, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := call(ctx); err != nil { // warm: the group's join, the reply topic
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func rawResponder(b *testing.B, c *kafkatest.Cluster, group string) {
	cl := newRaw(b, rawOpts(c,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics("rawcall"),
		kgo.BlockRebalanceOnPoll(), kgo.AutoCommitMarks())...)
	background(b, func(ctx context.Context) {
		pollLoop(ctx, cl, func(r *kgo.Record) {
			var replyTo string
			var id []byte
			for _, h := range r.Headers {
				switch h.Key {
				case "micro-reply-to":
					replyTo = string(h.Value)
				case "micro-correlation-id":
					id = h.Value
				}
			}
			reply := &kgo.Record{Topic: replyTo, Value: r.Value,
				Headers: []kgo.RecordHeader{{Key: "micro-correlation-id", Value: id}}}
			if err := cl.ProduceSync(ctx, reply).FirstErr(); err != nil && ctx.Err() == nil {
				b.Error(err)
			}
			cl.MarkCommitRecords(r)
		}, func() { _ = cl.CommitMarkedOffsets(ctx) })
	})
}

func rawRequester(b *testing.B, c *kafkatest.Cluster) func(context.Context) ([]byte, error) {
	cl := newRaw(b, rawOpts(c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"replies": {0: kgo.NewOffset().AtEnd()},
	}))...)
	var (
		mu      sync.Mutex
		waiters = map[string]chan []byte{}
		seq     atomic.Int64
	)
	background(b, func(ctx context.Context) {
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				for _, h := range r.Headers {
					if h.Key == "micro-correlation-id" {
						mu.Lock()
						ch := waiters[string(h.Value)]
						delete(waiters, string(h.Value))
						mu.Unlock()
						if ch != nil {
							ch <- r.Value
						}
					}
				}
			})
		}
	})
	return func(ctx context.Context) ([]byte, error) {
		id := strconv.FormatInt(seq.Add(1), 36)
		ch := make(chan []byte, 1)
		mu.Lock()
		waiters[id] = ch
		mu.Unlock()
		r := requestTo("rawcall", payload)
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: "micro-reply-to", Value: []byte("replies")},
			kgo.RecordHeader{Key: "micro-correlation-id", Value: []byte(id)})
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return nil, err
		}
		select {
		case v := <-ch:
			return v, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// background runs f on its own goroutine until b's cleanup cancels f's ctx
// and waits for f to return.
func background(b *testing.B, f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		f(ctx)
	}()
}

// warm runs f for a second, so that neither side of a comparison runs on a
// cold cluster: the first second after setup is measurably slower.
func warm(b *testing.B, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		if err := f(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
