package jetstream_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// attempts counts the runs of a handler by message body.
type attempts struct {
	mu sync.Mutex
	n  map[string]int
	ch chan string // each run's body, without blocking
}

func newAttempts() *attempts { return &attempts{n: map[string]int{}, ch: make(chan string, 1000)} }

func (a *attempts) run(body string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n[body]++
	select {
	case a.ch <- body:
	default:
	}
	return a.n[body]
}

func (a *attempts) of(body string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[body]
}

// deadLetters subscribes to subj with core NATS and returns the channel
// its messages arrive on.
func deadLetters(t *testing.T, ns *natstest.Server, subj string) (chan *natsgo.Msg, *natsgo.Conn) {
	t.Helper()
	nc, _ := connect(t, ns)
	ch := make(chan *natsgo.Msg, 100)
	if _, err := nc.ChanSubscribe(subj, ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch, nc
}

func receive(t *testing.T, ch chan *natsgo.Msg, what string) *natsgo.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
		return nil
	}
}

// TestPoisonMessages sends a message that always fails with a retryable
// code, one that fails with another code and one that panics, among good
// ones: each poison message reaches the dead-letter subject after its
// attempts, with its data, headers and error, and every other message is
// handled once. Each attempt's RequestInfo.Attrs carry its number, the
// stream sequence and the consumer.
func TestPoisonMessages(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	dlq := "dead." + prefix
	letters, dlnc := deadLetters(t, ns, dlq)
	a := newAttempts()
	mux := micro.NewMux()
	var outcomesMu sync.Mutex
	outcomes := map[string][]string{} // each attempt's RequestInfo.Outcome, by body
	mux.Use(func(next micro.Endpoint) micro.Endpoint {
		return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
			resp, err := next.Handle(ctx, req) // a panic passes by: the Mux answers it
			outcomesMu.Lock()
			defer outcomesMu.Unlock()
			outcomes[string(req)] = append(outcomes[string(req)], micro.RequestInfoFrom(ctx).Outcome(err))
			return resp, err
		})
	})
	mux.HandleFunc("p", "work", func(ctx context.Context, req []byte) ([]byte, error) {
		n := a.run(string(req))
		attrs := map[string]slog.Value{}
		for at := range micro.RequestInfoFrom(ctx).Attrs {
			attrs[at.Key] = at.Value
		}
		if attrs["micro.delivery.attempt"].String() != strconv.Itoa(n) || attrs["micro.jetstream.stream.sequence"].Kind() != slog.KindUint64 ||
			attrs["messaging.consumer.group.name"].String() == "" {
			t.Errorf("%q, attempt %d: RequestInfo.Attrs %v", req, n, attrs)
		}
		switch string(req) {
		case "flaky":
			return nil, micro.NewError(micro.Unavailable, "still down")
		case "invalid":
			return nil, micro.NewError(micro.InvalidArgument, "bad: input\n100%")
		case "panic":
			panic("boom")
		}
		return nil, nil
	})
	const retries = 2
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithRetries(retries, 10*time.Millisecond), jetstream.WithDeadLetterSubject(dlq)))
	c := newClient(t, ns, jetstream.WithPrefix(prefix))
	bodies := []string{"ok-0", "flaky", "ok-1", "invalid", "ok-2", "panic", "ok-3", "ok-4"}
	for _, b := range bodies {
		if err := c.Send(micro.WithHeader(t.Context(), "x-body", b), "p", "work", []byte(b)); err != nil {
			t.Fatalf("Send %s: %v", b, err)
		}
	}
	want := map[string]struct {
		code     string
		attempts int
	}{"flaky": {"14", retries + 1}, "invalid": {"3", 1}, "panic": {"13", 1}}
	for range want {
		m := receive(t, letters, "dead letter")
		w, ok := want[string(m.Data)]
		if !ok {
			t.Fatalf("dead letter %q", m.Data)
		}
		if got := m.Header.Get("x-body"); got != string(m.Data) {
			t.Errorf("dead letter %q: header x-body = %q", m.Data, got)
		}
		if got := m.Header.Get("Nats-Service-Error-Code"); got != w.code {
			t.Errorf("dead letter %q: error code %q, want %q", m.Data, got, w.code)
		}
		if m.Header.Get("Micro-Subject") != prefix+".p.work" || m.Header.Get("Micro-Stream") != prefix+"_p" || m.Header.Get("Micro-Sequence") == "" {
			t.Errorf("dead letter %q: origin headers %v", m.Data, m.Header)
		}
		if string(m.Data) == "invalid" {
			if got := m.Header.Get("Nats-Service-Error"); got != "bad: input%0A100%25" {
				t.Errorf("dead letter error message %q", got)
			}
		}
		if n := a.of(string(m.Data)); n != w.attempts {
			t.Errorf("%q was handled %d times, want %d", m.Data, n, w.attempts)
		}
	}
	for _, b := range bodies {
		for a.of(b) == 0 {
			waitRun(t, a.ch)
		}
	}
	if stopErr, startErr := stop(10 * time.Second); stopErr != nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v", stopErr, startErr)
	}
	if err := dlnc.Flush(); err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, ns)
	if info := consumerInfo(t, js, prefix+"_p"); info.NumPending != 0 || info.NumAckPending != 0 {
		t.Errorf("consumer after Stop: %d pending, %d unacknowledged; want 0", info.NumPending, info.NumAckPending)
	}
	for _, b := range bodies {
		if _, poison := want[b]; !poison && a.of(b) != 1 {
			t.Errorf("%q handled %d times, want 1", b, a.of(b))
		}
	}
	select {
	case m := <-letters:
		t.Errorf("unexpected dead letter %q", m.Data)
	default:
	}
	outcomesMu.Lock()
	defer outcomesMu.Unlock()
	for body, want := range map[string][]string{
		"ok-0": {"ack"}, "ok-4": {"ack"},
		"flaky":   {"retry", "retry", "dead_letter"},
		"invalid": {"dead_letter"},
	} {
		if got := outcomes[body]; !slices.Equal(got, want) {
			t.Errorf("%q: outcomes %q, want %q", body, got, want)
		}
	}
}

func waitRun(t *testing.T, ch chan string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("handler not run")
	}
}

// TestOversizeNotRetried sends a message over the server's size limit: it
// is dead-lettered as ResourceExhausted at once, never redelivered, since
// no retry changes its size.
func TestOversizeNotRetried(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	dlq := "dead." + prefix
	letters, _ := deadLetters(t, ns, dlq)
	ran := make(chan struct{}, 1)
	mux := micro.NewMux()
	mux.HandleFunc("p", "work", func(context.Context, []byte) ([]byte, error) { ran <- struct{}{}; return nil, nil })
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithRetries(2, 10*time.Millisecond), jetstream.WithDeadLetterSubject(dlq),
		jetstream.WithMaxMessageSize(64)))
	c := newClient(t, ns, jetstream.WithPrefix(prefix))
	if err := c.Send(t.Context(), "p", "work", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	m := receive(t, letters, "dead letter")
	if got := m.Header.Get("Nats-Service-Error-Code"); got != "8" {
		t.Fatalf("dead letter code %q, want 8 (ResourceExhausted)", got)
	}
	if got := m.Header.Get("Micro-Deliveries"); got != "1" {
		t.Fatalf("the oversized message was delivered %s times, want once", got)
	}
	if stopErr, startErr := stop(10 * time.Second); stopErr != nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v", stopErr, startErr)
	}
	_, js := connect(t, ns)
	if info := consumerInfo(t, js, prefix+"_p"); info.NumRedelivered != 0 {
		t.Fatalf("the oversized message was redelivered (%d)", info.NumRedelivered)
	}
	select {
	case <-ran:
		t.Fatal("the handler ran for an oversized message")
	default:
	}
}
