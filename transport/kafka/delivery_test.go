package kafka_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// The delivery tests push records through consumer groups under
// disruption and count how often each record was handled: lost is a record
// never handled, a duplicate an extra handling. Each ends with the group's
// lag, so a duplicate still to come would show too.

const (
	records    = 20_000
	partitions = 8
	deliveryTO = 2 * time.Minute // bounds every wait; never reached in a passing run
)

// deliveryMux returns a Mux whose work.count counts into tl.
func deliveryMux(tl *tally) *micro.Mux {
	m := micro.NewMux()
	m.Handle("work", "count", tl.handler())
	return m
}

func checkCounts(t *testing.T, tl *tally, wantDups int) (dups int) {
	t.Helper()
	lost, dups := tl.result()
	t.Logf("%d records: %d lost, %d duplicates", len(tl.counts), lost, dups)
	if lost != 0 {
		t.Errorf("%d records lost", lost)
	}
	if wantDups >= 0 && dups != wantDups {
		t.Errorf("%d duplicates, want %d", dups, wantDups)
	}
	return dups
}

func checkLag(t *testing.T, c *kafkatest.Cluster, group string) {
	t.Helper()
	if l := lag(t, c, group, "work"); l != 0 {
		t.Errorf("group %s has %d records uncommitted after a graceful stop", group, l)
	}
}

// TestDeliveryRestarts stops the consumer gracefully every 5000 records
// and starts another in the same group.
func TestDeliveryRestarts(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(partitions, "work"))
	tl := newTally(records, 5000, 10000, 15000)
	opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("restarts")}
	sent := produce(t, newClient(t, c), "work", "count", records)
	r := serve(t, deliveryMux(tl), opts...)
	for _, m := range []int64{5000, 10000, 15000} {
		wait(t, tl.reached(m), deliveryTO, strconv.FormatInt(m, 10)+" records")
		if err := r.stop(t, 30*time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		r = serve(t, deliveryMux(tl), opts...)
	}
	wait(t, tl.all(), deliveryTO, "all records")
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	if err := r.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	checkCounts(t, tl, 0)
	checkLag(t, c, "restarts")
}

// TestDeliveryMembership has members join and leave the group (one to
// three members) every 1000 records handled, so that the group rebalances
// about twenty times while records flow, however fast the machine is.
func TestDeliveryMembership(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(partitions, "work"))
	var marks []int64
	for m := int64(1000); m < records; m += 1000 {
		marks = append(marks, m)
	}
	tl := newTally(records, marks...)
	opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("churn"), fastGroup}
	sent := produce(t, newClient(t, c), "work", "count", records)
	hs := &handlings{}
	member := 0
	join := func() *running {
		member++
		return serve(t, hs.mux(member, tl), opts...)
	}
	members := []*running{join()}
	var joins, leaves int
	timeout := time.After(deliveryTO)
	for i, mark := range marks {
		select {
		case <-tl.reached(mark):
		case <-timeout:
			t.Fatalf("timed out waiting for %d records", mark)
		}
		if len(members) < 3 && (i%2 == 0 || len(members) == 1) {
			members = append(members, join())
			joins++
			continue
		}
		if err := members[0].stop(t, 30*time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		members = members[1:]
		leaves++
	}
	select {
	case <-tl.all():
	case <-timeout:
		t.Fatal("timed out waiting for all records")
	}
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if err := m.stop(t, 30*time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	t.Logf("%d joins, %d leaves", joins, leaves)
	if checkCounts(t, tl, 0) > 0 {
		hs.report(t)
	}
	checkLag(t, c, "churn")
}

// handlings records which member handled each record, from which
// partition and offset, to tell on a failure which hand-off handled
// records twice.
type handlings struct {
	mu sync.Mutex
	m  map[int][]handling // record id -> its handlings, in order
}

type handling struct {
	member    int
	partition string
	offset    int64
}

// mux returns a Mux for member whose work.count counts into tl and
// records each handling.
func (hs *handlings) mux(member int, tl *tally) *micro.Mux {
	count := tl.handler()
	m := micro.NewMux()
	m.HandleFunc("work", "count", func(ctx context.Context, req []byte) ([]byte, error) {
		h := handling{member: member}
		for a := range micro.RequestInfoFrom(ctx).Attrs {
			switch a.Key {
			case "messaging.destination.partition.id":
				h.partition = a.Value.String()
			case "messaging.kafka.offset":
				h.offset = a.Value.Int64()
			}
		}
		if id, err := strconv.Atoi(string(req)); err == nil {
			hs.mu.Lock()
			if hs.m == nil {
				hs.m = map[int][]handling{}
			}
			hs.m[id] = append(hs.m[id], h)
			hs.mu.Unlock()
		}
		return count(ctx, req)
	})
	return m
}

// report logs, for each partition and pair of members (first handler,
// second), the offsets handled twice: a hand-off whose new owner started
// before where the old one stopped.
func (hs *handlings) report(t *testing.T) {
	t.Helper()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	type handoff struct {
		partition string
		from, to  int
	}
	offsets := map[handoff][]int64{}
	for _, hh := range hs.m {
		for i := 1; i < len(hh); i++ {
			k := handoff{hh[i].partition, hh[i-1].member, hh[i].member}
			offsets[k] = append(offsets[k], hh[i].offset)
		}
	}
	for k, offs := range offsets {
		slices.Sort(offs)
		t.Logf("partition %s, member %d then member %d: %d offsets handled twice, %d..%d", k.partition, k.from, k.to, len(offs), offs[0], offs[len(offs)-1])
	}
}

// TestDeliveryBrokerRestart restarts the broker, on the same port and data
// directory, halfway through.
func TestDeliveryBrokerRestart(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithDataDir(t.TempDir()), kafkatest.WithTopics(partitions, "work"))
	addrs := c.Addrs()

	tl := newTally(records, records/2)
	opts := []kafka.ServerOption{kafka.WithBrokers(addrs...), kafka.WithGroup("restart"), fastGroup}
	cl, err := kafka.NewClient(kafka.WithBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sent := produce(t, cl, "work", "count", records)
	r := serve(t, deliveryMux(tl), opts...)
	wait(t, tl.reached(records/2), deliveryTO, "half the records")
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker restarted after %d of %d records were sent", sent.acked.Load(), records)
	wait(t, tl.all(), deliveryTO, "all records")
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	if err := r.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	checkCounts(t, tl, -1) // a restart may redeliver what was not committed
	checkLag(t, c, "restart")
}

// TestDeliveryKilled cuts a member off the cluster without Stop, as if its
// process died, and lets another member take over.
func TestDeliveryKilled(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(partitions, "work"), kafkatest.WithClusterOptions(kfake.GroupMinSessionTimeout(100*time.Millisecond)))
	tl := newTally(records, 5000)
	var killed atomic.Bool
	dead := micro.NewMux()
	dead.HandleFunc("work", "count", func(ctx context.Context, req []byte) ([]byte, error) {
		if killed.Load() {
			return nil, micro.Errorf(micro.Unavailable, "dead") // a dead process handles nothing
		}
		return tl.handler()(ctx, req)
	})
	ks := &killSwitch{}
	opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("killed"), fastGroup, kafka.WithRetries(0, 0)}
	sent := produce(t, newClient(t, c), "work", "count", records)
	a := serve(t, dead, append(opts, kafka.WithClientOptions(
		kgo.Dialer(ks.dial), kgo.SessionTimeout(time.Second), kgo.RebalanceTimeout(2*time.Second)))...)
	wait(t, tl.reached(5000), deliveryTO, "5000 records")
	killed.Store(true)
	ks.kill()
	b := serve(t, deliveryMux(tl), opts...)
	wait(t, tl.all(), deliveryTO, "all records")
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	if err := b.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	_ = a.stop(t, time.Second) // cut off: cannot commit or leave
	if dups := checkCounts(t, tl, -1); dups > kafka.DefaultCommitWindow {
		t.Errorf("%d duplicates, more than the commit window (%d)", dups, kafka.DefaultCommitWindow)
	}
	checkLag(t, c, "killed")
}
