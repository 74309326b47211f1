package kafka_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// logRecorder keeps the records logged at warning level or above.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	seen  chan struct{} // capacity 1: a line was added
}

func newLogRecorder() *logRecorder { return &logRecorder{seen: make(chan struct{}, 1)} }

func (l *logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *logRecorder) WithGroup(string) slog.Handler                 { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	select {
	case l.seen <- struct{}{}:
	default:
	}
	return nil
}

// count returns how many lines contain all of subs.
func (l *logRecorder) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		n++
	}
	return n
}

// waitLine waits until a line contains all of subs.
func (l *logRecorder) waitLine(t *testing.T, d time.Duration, subs ...string) {
	t.Helper()
	deadline := time.After(d)
	for l.count(subs...) == 0 {
		select {
		case <-l.seen:
		case <-deadline:
			t.Fatalf("no log line with %q within %v; got %q", subs, d, l.lines)
		}
	}
}

// startErr waits for r's Start to return, and returns its error.
func startErr(t *testing.T, r *running, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- nil // for the cleanup's stop
		return err
	case <-time.After(d):
		t.Fatalf("Start still serving after %v", d)
		return nil
	}
}

func countMux() *micro.Mux {
	m := micro.NewMux()
	m.HandleFunc("work", "count", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	return m
}

// TestHealthFenced starts a second member with the first's instance id:
// the first is fenced, and its Start returns an error that says so.
func TestHealthFenced(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"), shortSessions)
	opts := []kafka.ServerOption{kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("static"), shortSession}
	a := serve(t, countMux(), append(opts, kafka.WithClientOptions(kgo.InstanceID("one")))...)
	waitFor(t, faultTO, "the first member", func() bool { return members(t, c, "static") == 1 })
	b := serve(t, countMux(), append(opts, kafka.WithClientOptions(kgo.InstanceID("one")))...)
	err := startErr(t, a, faultTO)
	t.Logf("Start: %v", err)
	if err == nil || !strings.Contains(err.Error(), "fenced") {
		t.Errorf("Start = %v, want an error naming the fenced state", err)
	}
	_ = b
}

// TestHealthAuthorizationLost takes the group's rights away from a
// running member: Start returns an error naming the state.
func TestHealthAuthorizationLost(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"), shortSessions)
	r := serve(t, countMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("authz"), shortSession)
	waitFor(t, faultTO, "the member", func() bool { return members(t, c, "authz") == 1 })
	c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.OffsetCommit, kmsg.OffsetFetch},
		Group: "authz", Err: kerr.GroupAuthorizationFailed, Count: -1})
	err := startErr(t, r, faultTO)
	t.Logf("Start: %v", err)
	if err == nil || !strings.Contains(err.Error(), "authorization lost") {
		t.Errorf("Start = %v, want an error naming the lost authorization", err)
	}
}

// TestHealthTopicDeleted deletes the topic a member consumes: once it is
// gone past the grace period, Start returns an error naming it.
func TestHealthTopicDeleted(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"), shortSessions)
	r := serve(t, countMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("deleted"), shortSession)
	waitFor(t, faultTO, "the member", func() bool { return members(t, c, "deleted") == 1 })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{"work"}
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("work")
	req.Topics = append(req.Topics, dt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	err = startErr(t, r, faultTO)
	t.Logf("Start: %v", err)
	if err == nil || !strings.Contains(err.Error(), `topic "work" deleted`) {
		t.Errorf("Start = %v, want an error naming the deleted topic", err)
	}
}

// TestHealthCommitsFailing fails every commit for longer than the bound:
// the failures become a warning naming the state, rate-limited, and the
// member goes on once commits succeed again.
func TestHealthCommitsFailing(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.WithTopics(1, "work"), shortSessions)
	logs := newLogRecorder()
	tl := newTally(100, 1)
	r := serve(t, deliveryMux(tl), kafka.WithBrokers(c.Addrs()...), kafka.WithGroup("commits"), shortSession,
		kafka.WithLogger(slog.New(logs)))
	h := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "commits", Err: kerr.OffsetMetadataTooLarge, Count: -1})
	sent := produce(t, newClient(t, c), "work", "count", 100)
	if err := <-sent.done; err != nil {
		t.Fatal(err)
	}
	wait(t, tl.all(), faultTO, "all records")
	logs.waitLine(t, faultTO, "WARN", "commit failed", "state=", "OFFSET_METADATA_TOO_LARGE")
	h.Remove()
	if n := logs.count("commit failed"); n != 1 {
		t.Errorf("%d warnings of failed commits, want 1 (rate-limited)", n)
	}
	if err := r.stop(t, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	checkCounts(t, tl, 0)
	checkLag(t, c, "commits")
}
