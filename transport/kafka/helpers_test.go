package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// tally counts how often each of n records was handled, and closes a
// channel when the number of distinct records handled reaches a mark.
type tally struct {
	counts []atomic.Int32
	unique atomic.Int64
	marks  map[int64]chan struct{}
}

func newTally(n int, marks ...int64) *tally {
	tl := &tally{counts: make([]atomic.Int32, n), marks: map[int64]chan struct{}{int64(n): make(chan struct{})}}
	for _, m := range marks {
		tl.marks[m] = make(chan struct{})
	}
	return tl
}

// add counts record id.
func (tl *tally) add(id int) {
	if tl.counts[id].Add(1) == 1 {
		if ch, ok := tl.marks[tl.unique.Add(1)]; ok {
			close(ch)
		}
	}
}

// reached returns a channel closed once mark distinct records were handled.
func (tl *tally) reached(mark int64) <-chan struct{} { return tl.marks[mark] }

// all returns a channel closed once every record was handled.
func (tl *tally) all() <-chan struct{} { return tl.marks[int64(len(tl.counts))] }

// result returns how many records were never handled and how many extra
// times records were handled.
func (tl *tally) result() (lost, dups int) {
	for i := range tl.counts {
		switch n := int(tl.counts[i].Load()); {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	return lost, dups
}

// most returns how often the most handled record was handled.
func (tl *tally) most() int {
	var n int32
	for i := range tl.counts {
		n = max(n, tl.counts[i].Load())
	}
	return int(n)
}

// handler returns the handler that counts the record whose value is its id.
func (tl *tally) handler() micro.HandlerFunc {
	return func(_ context.Context, req []byte) ([]byte, error) {
		id, err := strconv.Atoi(string(req))
		if err != nil || id < 0 || id >= len(tl.counts) {
			return nil, micro.Errorf(micro.InvalidArgument, "bad id %q", req)
		}
		tl.add(id)
		return nil, nil
	}
}

// wait fails t unless ch is closed within d.
func wait(t testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// running is a started Server.
type running struct {
	srv  *kafka.Server
	done chan error
}

// serve starts a Server and waits until it is ready.
func serve(t testing.TB, mux *micro.Mux, opts ...kafka.ServerOption) *running {
	t.Helper()
	r := &running{srv: kafka.NewServer(mux, opts...), done: make(chan error, 1)}
	go func() { r.done <- r.srv.Start(context.Background()) }()
	select {
	case <-r.srv.Ready():
	case err := <-r.done:
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { r.stop(t, 20*time.Second) })
	return r
}

// stop stops the server within d and returns Stop's error; Start must then
// return nil.
func (r *running) stop(t testing.TB, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := r.srv.Stop(ctx)
	select {
	case serr := <-r.done:
		if serr != nil {
			t.Errorf("Start returned %v after Stop", serr)
		}
		r.done <- nil // for a later stop
	case <-time.After(d):
		t.Errorf("Start did not return after Stop")
	}
	return err
}

// producer sends records in the background.
type producer struct {
	done  chan error // yields nil, or the errors, once all were sent
	acked atomic.Int64
}

// produce sends the records 0..n-1, each valued with its id, from
// several goroutines.
func produce(t testing.TB, cl *kafka.Client, namespace, service string, n int) *producer {
	t.Helper()
	const senders = 32
	p := &producer{done: make(chan error, 1)}
	done := p.done
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Go(func() {
			for {
				id := next.Add(1) - 1
				if id >= int64(n) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := cl.Send(ctx, namespace, service, strconv.AppendInt(nil, id, 10))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("send %d: %w", id, err)
					return
				}
				p.acked.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		close(errs)
		done <- errors.Join(func() (all []error) {
			for err := range errs {
				all = append(all, err)
			}
			return all
		}()...)
	}()
	return p
}

// newClient returns a Client of cluster c, closed at cleanup.
func newClient(t testing.TB, c *kafkatest.Cluster, opts ...kafka.ClientOption) *kafka.Client {
	t.Helper()
	cl, err := kafka.NewClient(append([]kafka.ClientOption{kafka.WithBrokers(c.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// fastGroup makes a member notice rebalances quickly.
var fastGroup = kafka.WithClientOptions(kgo.HeartbeatInterval(100 * time.Millisecond))

// killSwitch is a dialer whose connections can all be cut at once, and
// which refuses to dial after: a process that died, as the cluster sees it.
type killSwitch struct {
	mu     sync.Mutex
	conns  []net.Conn
	killed bool
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed {
		return nil, errors.New("killed")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, conn)
	}
	return conn, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.killed = true
	for _, c := range k.conns {
		c.Close()
	}
}

// lag returns how many records of topic the group has not committed: the
// sum over partitions of the end offset minus the committed one.
func lag(t testing.TB, c *kafkatest.Cluster, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ends := map[int32]int64{}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	meta, err := mreq.RequestWith(ctx, cl)
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, p := range meta.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p.Partition, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	for _, sh := range cl.RequestSharded(ctx, lreq) {
		if sh.Err != nil {
			t.Fatalf("list offsets: %v", sh.Err)
		}
		for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				ends[rp.Partition] = rp.Offset
			}
		}
	}

	freq := kmsg.NewPtrOffsetFetchRequest()
	freq.Group = group
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic = topic
	for p := range ends {
		ft.Partitions = append(ft.Partitions, p)
	}
	freq.Topics = append(freq.Topics, ft)
	fresp, err := freq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	committed := map[int32]int64{}
	topics := fresp.Topics
	if len(fresp.Groups) > 0 {
		for _, g := range fresp.Groups {
			for _, gt := range g.Topics {
				for _, gp := range gt.Partitions {
					committed[gp.Partition] = gp.Offset
				}
			}
		}
	}
	for _, ft := range topics {
		for _, fp := range ft.Partitions {
			committed[fp.Partition] = fp.Offset
		}
	}
	var total int64
	for p, end := range ends {
		total += end - max(committed[p], 0)
	}
	return total
}
