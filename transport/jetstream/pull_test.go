package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
)

// settledSlots reports whether every slot of s's consumers that is taken
// is held by an open pull: no handler runs, and no slot was lost.
func (s *Server) settledSlots() bool {
	for _, c := range s.consumers {
		if len(c.slots) != int(c.out.Load()) {
			return false
		}
	}
	return true
}

// lastPull returns the id of s's consumer's last pull and the ids of
// its open pulls.
func (s *Server) lastPull() (last uint64, open []uint64) {
	c := s.consumers[0]
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.pulls {
		open = append(open, id)
	}
	return c.id, open
}

// counter counts how often each message body was handled.
type counter struct {
	mu   sync.Mutex
	seen map[string]int
	at   chan struct{}
}

func newCounter() *counter { return &counter{seen: map[string]int{}, at: make(chan struct{}, 1)} }

func (c *counter) mux(ns string) *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc(ns, "work", func(_ context.Context, req []byte) ([]byte, error) {
		c.mu.Lock()
		c.seen[string(req)]++
		c.mu.Unlock()
		select {
		case c.at <- struct{}{}:
		default:
		}
		return nil, nil
	})
	return mux
}

// result returns how many distinct messages were handled, and how many
// handlings were repeats.
func (c *counter) result() (unique, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.seen {
		unique++
		dups += k - 1
	}
	return unique, dups
}

func (c *counter) wait(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if u, _ := c.result(); u >= n {
			return
		}
		select {
		case <-c.at:
		case <-deadline:
			u, d := c.result()
			t.Fatalf("after %v: %d of %d messages handled (%d repeats)", timeout, u, n, d)
		}
	}
}

func sendN(t *testing.T, url, prefix, ns string, from, n int) {
	t.Helper()
	cl, err := NewClient(WithURL(url), WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := from; i < from+n; i++ {
		if err := cl.Send(t.Context(), ns, "work", fmt.Appendf(nil, "%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPullExpires leaves a Server idle while its pulls expire: each ends
// with the nats-server's 408 Request Timeout, which gives its slots back,
// and a new pull replaces it; none is taken for lost; a message sent
// afterwards is handled once.
func TestPullExpires(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	c := newCounter()
	srv := NewServer(c.mux("px"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("px"))
	microtest.Serve(t, nil, srv)
	// The first pull expires after fetchWait; wait for the third to open.
	waitFor(t, "pulls did not expire and reopen", func() bool {
		last, open := srv.lastPull()
		return last >= 3 && len(open) >= 1
	})
	if n := srv.consumers[0].forgotten.Load(); n != 0 {
		t.Fatalf("the consumer forgot its pulls %d times; want 0: each expired pull ends with its status", n)
	}
	// A pull takes its slots before it is counted open, and an ended one
	// is counted closed before its slots are free: the two agree whenever
	// no pull is opening or ending, which a lost slot never lets happen.
	waitFor(t, "slots taken and slots held by open pulls never agree (nothing in flight)", srv.settledSlots)
	sendN(t, ns.URL(), "px", "px", 0, 1)
	c.wait(t, 1, microtest.Timeout)
	if u, d := c.result(); u != 1 || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want 1, 0", u, d)
	}
}

// TestPullLimits serves a consumer whose MaxRequestBatch is 2 and whose
// MaxWaiting is 1: pulls are cut to 2 messages, the nats-server refuses
// every pull beyond the one it holds (409 Exceeded MaxWaiting), and
// refused pulls give their slots back: every message is handled once, and
// no slot is lost.
func TestPullLimits(t *testing.T) {
	const n = 60
	ns := natstest.Start(t, natstest.WithJetStream())
	c := newCounter()
	srv := NewServer(c.mux("pl"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("pl"),
		WithConcurrency(8), WithConsumerConfig(func(cfg *natsjs.ConsumerConfig) {
			cfg.MaxRequestBatch, cfg.MaxWaiting = 2, 1
		}))
	microtest.Serve(t, nil, srv)
	sendN(t, ns.URL(), "pl", "pl", 0, n)
	c.wait(t, n, microtest.Timeout)
	waitFor(t, "slots not given back", srv.settledSlots)
	if u, d := c.result(); u != n || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want %d, 0", u, d, n)
	}
	if f := srv.consumers[0].forgotten.Load(); f != 0 {
		t.Fatalf("the consumer forgot its pulls %d times; want 0", f)
	}
}

// TestConsumerDeletedStatus deletes a Server's consumer while its pull
// waits: the nats-server's 409 Consumer Deleted ends Start with
// ErrConsumerDeleted.
func TestConsumerDeletedStatus(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	srv := NewServer(newCounter().mux("cd"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("cd"))
	done := make(chan error, 1)
	go func() { done <- srv.Start(context.Background()) }()
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	<-srv.Ready()
	waitFor(t, "no pull open", func() bool { _, open := srv.lastPull(); return len(open) > 0 })
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	if err := js.DeleteConsumer(t.Context(), "cd_cd", "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, natsjs.ErrConsumerDeleted) || micro.CodeOf(err) != micro.Unavailable {
			t.Fatalf("Start = %v; want Unavailable wrapping %v", err, natsjs.ErrConsumerDeleted)
		}
	case <-time.After(microtest.Timeout):
		t.Fatal("Start still serving after its consumer was deleted")
	}
}

// relay forwards TCP connections to addr; sever closes the ones open, as
// a network failure would, and new ones are accepted.
type relay struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newRelay(t *testing.T, addr string) *relay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{l: l}
	r.wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, in, out)
			r.mu.Unlock()
			r.wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
			r.wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		r.sever()
		r.wg.Wait()
	})
	return r
}

func (r *relay) sever() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestReconnectMidPull severs a Server's connection while its pulls are
// open and messages flow; nats.go reconnects, and the Server pulls anew
// (the pulls open at the cut are gone): nothing is lost, repeats are
// bounded by MaxAckPending, and no slot is lost.
func TestReconnectMidPull(t *testing.T) {
	const n, maxAckPending = 4000, 200
	ns := natstest.Start(t, natstest.WithJetStream())
	r := newRelay(t, ns.URL()[len("nats://"):])
	c := newCounter()
	srv := NewServer(c.mux("rc"), WithURL("nats://"+r.l.Addr().String()), WithDurable("test"), WithCreateStream(), WithPrefix("rc"),
		WithAckWait(2*time.Second), WithMaxAckPending(maxAckPending),
		WithConnOptions(natsgo.ReconnectWait(20*time.Millisecond), natsgo.ReconnectJitter(0, 0)))
	microtest.Serve(t, nil, srv)
	sendN(t, ns.URL(), "rc", "rc", 0, n/2)
	c.wait(t, n/4, microtest.Timeout)
	r.sever()
	sendN(t, ns.URL(), "rc", "rc", n/2, n/2)
	c.wait(t, n, time.Minute)
	waitFor(t, "slots not given back", srv.settledSlots)
	u, d := c.result()
	t.Logf("%d messages, connection severed at %d or later: %d handled, %d repeats, pulls forgotten %d times",
		n, n/4, u, d, srv.consumers[0].forgotten.Load())
	if u != n || d > maxAckPending {
		t.Fatalf("handled %d of %d, %d repeats; want all, at most %d repeats", u, n, d, maxAckPending)
	}
}

// logged is a slog.Handler that keeps the records logged at its level
// and above, each as its message and attributes.
type logged struct {
	level slog.Level
	mu    sync.Mutex
	seen  []string
	at    chan struct{} // signalled when one is kept
}

func newWarnings() *logged { return newLogged(slog.LevelWarn) }

func newLogged(level slog.Level) *logged { return &logged{level: level, at: make(chan struct{}, 1)} }

func (w *logged) Enabled(_ context.Context, l slog.Level) bool { return l >= w.level }
func (w *logged) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *logged) WithGroup(string) slog.Handler                { return w }
func (w *logged) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	w.mu.Lock()
	w.seen = append(w.seen, line)
	w.mu.Unlock()
	select {
	case w.at <- struct{}{}:
	default:
	}
	return nil
}

// wait waits until a record containing want was logged.
func (w *logged) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(microtest.Timeout)
	for {
		w.mu.Lock()
		seen := slices.Clone(w.seen)
		w.mu.Unlock()
		if slices.ContainsFunc(seen, func(l string) bool { return strings.Contains(l, want) }) {
			return
		}
		select {
		case <-w.at:
		case <-deadline:
			t.Fatalf("after %v: no record containing %q; logged %q", microtest.Timeout, want, seen)
		}
	}
}

// updateConsumer changes the config of the durable "test" of stream.
func updateConsumer(t *testing.T, url, stream string, change func(*natsjs.ConsumerConfig)) {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	cons, err := js.Consumer(t.Context(), stream, "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	change(&cfg)
	if _, err := js.UpdateConsumer(t.Context(), stream, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestPullLimitsUpdated lowers the consumer's MaxRequestBatch below the
// Server's batch while it serves: the nats-server refuses its pulls (409
// Exceeded MaxRequestBatch), which carry no count; the Server logs it at
// Warn, reads the consumer's limits anew and pulls within them: every
// message is handled once, and no slot is lost.
func TestPullLimitsUpdated(t *testing.T) {
	const n = 60
	ns := natstest.Start(t, natstest.WithJetStream())
	c, w := newCounter(), newWarnings()
	srv := NewServer(c.mux("lu"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("lu"),
		WithConcurrency(8), WithLogger(slog.New(w)))
	microtest.Serve(t, nil, srv)
	waitFor(t, "no pull open", func() bool { _, open := srv.lastPull(); return len(open) > 0 })
	updateConsumer(t, ns.URL(), "lu_lu", func(cfg *natsjs.ConsumerConfig) { cfg.MaxRequestBatch = 2 })
	sendN(t, ns.URL(), "lu", "lu", 0, n)
	c.wait(t, n, microtest.Timeout)
	waitFor(t, "slots not given back", srv.settledSlots)
	if u, d := c.result(); u != n || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want %d, 0", u, d, n)
	}
	w.wait(t, "Exceeded MaxRequestBatch of 2")
}

// TestLostMessageSlots ends a Server's open pull, which holds its only
// slot, with a status that counts its message as sent though none came
// (as a 409 Batch Completed of a replicated consumer whose message a new
// leader lost, or a message nats.go dropped, the inbox full), and lets
// the nats-server's own pull expire: the watch frees the slot, which no
// pull holds, and the messages sent afterwards are handled once.
func TestLostMessageSlots(t *testing.T) {
	const n = 10
	ns := natstest.Start(t, natstest.WithJetStream())
	c := newCounter()
	srv := NewServer(c.mux("ls"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("ls"),
		WithConcurrency(1))
	microtest.Serve(t, nil, srv)
	id := onlyPull(t, srv)
	sendStatus(t, ns.URL(), srv, id, natsgo.Header{hdrStatus: {statusConflict}, hdrDescription: {"Batch Completed"}, hdrPendingMsgs: {"0"}})
	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	cons, err := js.Consumer(t.Context(), "ls_ls", "test")
	if err != nil {
		t.Fatal(err)
	}
	// Until the pull the nats-server holds expires, it would bring the
	// messages: wait for it to end, or for the Server to pull anew.
	waitFor(t, "the pull did not end", func() bool {
		if last, _ := srv.lastPull(); last > id {
			return true
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.NumWaiting == 0
	})
	sendN(t, ns.URL(), "ls", "ls", 0, n)
	c.wait(t, n, microtest.Timeout)
	waitFor(t, "slots not given back", srv.settledSlots)
	if u, d := c.result(); u != n || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want %d, 0", u, d, n)
	}
}

// TestStatusOfForgottenPull sends a Server a 409 Leadership Change, which
// carries no count, for a pull it does not hold (as the nats-server sends
// one for each open pull, the first of which makes it forget them all):
// the pulls it has open are not forgotten, and a message sent afterwards
// is handled once.
func TestStatusOfForgottenPull(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	c := newCounter()
	srv := NewServer(c.mux("fp"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("fp"))
	microtest.Serve(t, nil, srv)
	waitFor(t, "no pull open", func() bool { _, open := srv.lastPull(); return len(open) > 0 })
	sendStatus(t, ns.URL(), srv, 0, natsgo.Header{hdrStatus: {statusConflict}, hdrDescription: {"Leadership Change"}}) // ids start at 1
	// The nats-server sent the status to the Server's connection before
	// it stores the message, which comes after it.
	sendN(t, ns.URL(), "fp", "fp", 0, 1)
	c.wait(t, 1, microtest.Timeout)
	if u, d := c.result(); u != 1 || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want 1, 0", u, d)
	}
	if f := srv.consumers[0].forgotten.Load(); f != 0 {
		t.Fatalf("the consumer forgot its pulls %d times; want 0", f)
	}
}

// TestMessageOverMaxBytes serves a consumer whose MaxRequestMaxBytes is
// less than a stored message: every pull ends with 409 Message Size
// Exceeds MaxBytes, which the Server logs at Warn and backs off from;
// once the limit is raised, it reads it anew and the message is handled
// once.
func TestMessageOverMaxBytes(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	c, w := newCounter(), newWarnings()
	srv := NewServer(c.mux("mb"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("mb"),
		WithLogger(slog.New(w)), WithConsumerConfig(func(cfg *natsjs.ConsumerConfig) { cfg.MaxRequestMaxBytes = 1024 }))
	microtest.Serve(t, nil, srv)
	cl, err := NewClient(WithURL(ns.URL()), WithPrefix("mb"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Send(t.Context(), "mb", "work", make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "Message Size Exceeds MaxBytes")
	if u, _ := c.result(); u != 0 {
		t.Fatalf("handled %d messages; want 0 while the message exceeds MaxRequestMaxBytes", u)
	}
	updateConsumer(t, ns.URL(), "mb_mb", func(cfg *natsjs.ConsumerConfig) { cfg.MaxRequestMaxBytes = 1 << 20 })
	c.wait(t, 1, microtest.Timeout)
	if u, d := c.result(); u != 1 || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want 1, 0", u, d)
	}
}

// TestServerShutdownStatus ends a Server's open pull with 409 Server
// Shutdown and its count, as a nats-server shutting down does for each
// pull of an R1 consumer before it stops JetStream (a status that seldom
// reaches the client before its connection closes, so the test sends
// it): the Server takes it for a failed pull and backs off, rather than
// pull at once into a stopping nats-server; a message sent afterwards is
// handled once.
func TestServerShutdownStatus(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	c, l := newCounter(), newLogged(slog.LevelDebug)
	srv := NewServer(c.mux("sd"), WithURL(ns.URL()), WithDurable("test"), WithCreateStream(), WithPrefix("sd"),
		WithLogger(slog.New(l)))
	microtest.Serve(t, nil, srv)
	id := onlyPull(t, srv)
	sendStatus(t, ns.URL(), srv, id, natsgo.Header{hdrStatus: {statusConflict}, hdrDescription: {"Server Shutdown"},
		hdrPendingMsgs: {strconv.Itoa(DefaultConcurrency)}, "Nats-Pending-Bytes": {strconv.Itoa(pullBytes)}})
	l.wait(t, natsjs.ErrServerShutdown.Error())
	sendN(t, ns.URL(), "sd", "sd", 0, 1)
	c.wait(t, 1, microtest.Timeout)
	if u, d := c.result(); u != 1 || d != 0 {
		t.Fatalf("handled %d messages, %d repeats; want 1, 0", u, d)
	}
}

// onlyPull waits until srv's consumer has one pull open and returns its id.
func onlyPull(t *testing.T, srv *Server) uint64 {
	t.Helper()
	var id uint64
	waitFor(t, "not one pull open", func() bool {
		_, open := srv.lastPull()
		if len(open) == 1 {
			id = open[0]
		}
		return len(open) == 1
	})
	return id
}

// sendStatus sends srv's consumer a status message with hdr for its
// pull id, as the nats-server would, and flushes it.
func sendStatus(t *testing.T, url string, srv *Server, id uint64, hdr natsgo.Header) {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(&natsgo.Msg{Subject: srv.consumers[0].inbox + strconv.FormatUint(id, 10), Header: hdr}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
