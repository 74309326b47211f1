package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// The fault tests run one member alone through a fault that costs it its
// group generation, and check that it goes on by itself: every record
// handled, no more duplicates than the records it handled but could not
// commit, and the same member still serving at the end.

const (
	faultTO        = 30 * time.Second // bounds every wait; never reached in a passing run
	sessionTimeout = time.Second
)

// shortSession is a group session short enough for a test to outlast it.
var shortSession = kafka.WithClientOptions(kgo.SessionTimeout(sessionTimeout),
	kgo.HeartbeatInterval(100*time.Millisecond), kgo.RebalanceTimeout(5*time.Second))

// shortSessions lets the cluster accept shortSession.
var shortSessions = kafkatest.WithClusterOptions(kfake.GroupMinSessionTimeout(100 * time.Millisecond))

// freeze holds every heartbeat and offset commit the cluster receives,
// unanswered, until the returned function is called: to the cluster the
// member has gone silent (a long GC pause, a frozen VM, a partition), while
// the member goes on handling the records it fetched.
func freeze(c *kafkatest.Cluster) (thaw func()) {
	done := make(chan struct{})
	var once sync.Once
	kc := c.Kfake()
	for _, key := range []int16{int16(kmsg.Heartbeat), int16(kmsg.OffsetCommit)} {
		kc.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			kc.KeepControl()
			select {
			case <-done:
				kc.DropControl()
			default:
				kc.SleepControl(func() { <-done })
			}
			return nil, nil, false
		})
	}
	return func() { once.Do(func() { close(done) }) }
}

// members returns the members of group, as the cluster sees them.
func members(t testing.TB, c *kafkatest.Cluster, group string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("describe group %s: %v", group, err)
	}
	return len(resp.Groups[0].Members)
}

// waitFor polls cond until it holds, failing t after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// finishAlone checks that the lone member r, still serving, handles all
// of tl's records, then stops it: 0 lost, no more duplicates than the
// commit window, nothing left uncommitted.
func finishAlone(t *testing.T, c *kafkatest.Cluster, r *running, tl *tally, group string, window int) {
	t.Helper()
	wait(t, tl.all(), faultTO, "all records")
	select {
	case err := <-r.done:
		t.Fatalf("Start returned %v before Stop", err)
	default:
	}
	if err := r.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if dups := checkCounts(t, tl, -1); dups > window {
		t.Errorf("%d duplicates, more than the commit window (%d)", dups, window)
	}
	checkLag(t, c, group)
}

// TestFaultSessionExpired freezes a lone member's heartbeats and commits
// past its session timeout while it has a backlog larger than its commit
// window, so that the cluster evicts it, then lets them through: the member
// must learn it lost its generation, rejoin and finish the backlog, having
// handled again at most its window of records. It runs with the default
// window and with a smaller one (WithCommitWindow), which a member that
// ignored the option would exceed: it goes on handling while it is frozen
// until its window is full.
func TestFaultSessionExpired(t *testing.T) {
	for _, window := range []int{kafka.DefaultCommitWindow, 100} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			c := kafkatest.Start(t, kafkatest.WithTopics(2, "work"), shortSessions) // deep partitions: the backlog outgrows the buffers
			tl := newTally(records, 2000)
			sent := produce(t, newClient(t, c), "work", "count", records)
			if err := <-sent.done; err != nil { // the whole stream is a backlog
				t.Fatal(err)
			}
			opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("evicted"), shortSession}
			if window != kafka.DefaultCommitWindow {
				opts = append(opts, kafka.WithCommitWindow(window))
			}
			r := serve(t, deliveryMux(tl), opts...)
			wait(t, tl.reached(2000), faultTO, "2000 records")
			thaw := freeze(c)
			defer thaw()
			waitFor(t, faultTO, "the member's eviction", func() bool { return members(t, c, "evicted") == 0 })
			evictedAt := tl.unique.Load()
			thaw()
			t.Logf("evicted after %d records", evictedAt)
			finishAlone(t, c, r, tl, "evicted", window)
		})
	}
}

// TestFaultBrokerCrash kills the broker, as SIGKILL would, while a lone
// member works through a backlog, and starts it again on what its data
// directory held: the records are there, the group's generation is not.
// The member must rejoin and finish.
func TestFaultBrokerCrash(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithDataDir(t.TempDir()), kafkatest.WithTopics(2, "work"), shortSessions)
	tl := newTally(records, records/2)
	sent := produce(t, newClient(t, c), "work", "count", records)
	if err := <-sent.done; err != nil { // all on disk before the crash
		t.Fatal(err)
	}
	r := serve(t, deliveryMux(tl), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("crash"), shortSession)
	wait(t, tl.reached(records/2), faultTO, "half the records")
	if err := c.Crash(); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker killed after %d records", tl.unique.Load())
	finishAlone(t, c, r, tl, "crash", kafka.DefaultCommitWindow)
}

// TestFaultLeaderMoved moves the leadership of every partition to another
// broker while records flow, under a lone member and, beside it in its own
// group, a raw franz-go group consumer that counts the same way: both must
// lose nothing, and the member's duplicates are compared with the raw
// consumer's.
func TestFaultLeaderMoved(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithNumBrokers(3), kafkatest.WithTopics(partitions, "work"), shortSessions)
	tl := newTally(records, records/2)
	raw := newTally(records)
	rawDone := make(chan struct{})
	rawCl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumerGroup("raw"), kgo.ConsumeTopics("work"),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(rawDone)
		for {
			fs := rawCl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				if id, err := strconv.Atoi(string(r.Value)); err == nil && id >= 0 && id < records {
					raw.add(id)
				}
			})
		}
	}()
	defer func() {
		rawCl.Close() // kgo commits what it polled on close
		<-rawDone
	}()
	r := serve(t, deliveryMux(tl), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("moved"), shortSession)
	sent := produce(t, newClient(t, c), "work", "count", records)
	wait(t, tl.reached(records/2), faultTO, "half the records")
	kc := c.Kfake()
	for p := range int32(partitions) {
		to := (kc.LeaderFor("work", p) + 1) % 3
		if err := kc.MoveTopicPartition("work", p, to); err != nil {
			t.Fatalf("move partition %d to broker %d: %v", p, to, err)
		}
	}
	t.Logf("leaders moved after %d records", tl.unique.Load())
	wait(t, tl.all(), faultTO, "all records")
	wait(t, raw.all(), faultTO, "all records, raw")
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	if err := r.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	rawLost, rawDups := raw.result()
	t.Logf("raw franz-go consumer: %d lost, %d duplicates, a record at most %d times", rawLost, rawDups, raw.most())
	// The duplicates are the client's: after the move franz-go fetches
	// again records it had returned, raw or under micro alike (kfake's
	// epoch answers). micro adds none: no record is handled more often
	// than by two fetches.
	checkCounts(t, tl, -1)
	t.Logf("micro: a record at most %d times", tl.most())
	if n := tl.most(); n > 2 {
		t.Errorf("a record handled %d times, want at most 2", n)
	}
	if rawLost != 0 {
		t.Errorf("raw consumer: %d records lost", rawLost)
	}
	checkLag(t, c, "moved")
}

// TestTakeoverTime measures how long a group takes to hand the partitions
// of a member that died (no Stop, no LeaveGroup) to the member left: the
// time from the death to the last of the records produced after it being
// handled. It is about the session timeout plus one rebalance; the figure
// is logged for the README, not asserted.
func TestTakeoverTime(t *testing.T) {
	for _, tc := range []struct {
		session, heartbeat time.Duration
	}{{time.Second, 100 * time.Millisecond}, {6 * time.Second, 2 * time.Second}} {
		t.Run(tc.session.String(), func(t *testing.T) {
			c := kafkatest.Start(t, kafkatest.WithTopics(partitions, "work"), shortSessions)
			const n = 200
			tl := newTally(n, n/2)
			var killed atomic.Bool
			dead := micro.NewMux()
			dead.HandleFunc("work", "count", func(ctx context.Context, req []byte) ([]byte, error) {
				if killed.Load() {
					return nil, micro.Errorf(micro.Unavailable, "dead")
				}
				return tl.handler()(ctx, req)
			})
			group := kafka.WithClientOptions(kgo.SessionTimeout(tc.session), kgo.HeartbeatInterval(tc.heartbeat))
			opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("takeover"), group, kafka.WithRetries(0, 0)}
			ks := &killSwitch{}
			a := serve(t, dead, append(opts, kafka.WithClientOptions(kgo.Dialer(ks.dial)))...)
			serve(t, deliveryMux(tl), opts...)
			waitFor(t, faultTO, "two members", func() bool { return members(t, c, "takeover") == 2 })
			cl := newClient(t, c)
			send := func(from, to int) {
				for id := from; id < to; id++ {
					ctx, cancel := context.WithTimeout(context.Background(), faultTO)
					err := cl.Send(ctx, "work", "count", strconv.AppendInt(nil, int64(id), 10))
					cancel()
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			send(0, n/2)
			wait(t, tl.reached(n/2), faultTO, "the first half")
			killed.Store(true)
			ks.kill()
			died := time.Now()
			send(n/2, n)
			wait(t, tl.all(), faultTO, "the records sent after the death")
			t.Logf("session timeout %v, heartbeat interval %v: partitions taken over %v after the member died",
				tc.session, tc.heartbeat, time.Since(died).Round(10*time.Millisecond))
			_ = a.stop(t, time.Second) // cut off: cannot commit or leave
		})
	}
}
