package jetstream_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

const deliveryN = 20000

// counting returns a Mux whose "work" route of namespace "d" counts the
// messages it handles by body.
func counting(c *tally) *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc("d", "work", func(_ context.Context, req []byte) ([]byte, error) {
		c.add(string(req))
		return nil, nil
	})
	return mux
}

// countingAlso is counting(c), also counting what this server handled in
// own.
func countingAlso(c, own *tally) *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc("d", "work", func(_ context.Context, req []byte) ([]byte, error) {
		c.add(string(req))
		own.add(string(req))
		return nil, nil
	})
	return mux
}

// shared returns how many messages both a and b handled.
func shared(a, b *tally) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for id := range a.counts {
		if b.counts[id] > 0 {
			n++
		}
	}
	return n
}

// TestDeliveryRestarts stops the consumer and starts a new one every 5000
// messages: graceful stops lose nothing and handle nothing twice.
func TestDeliveryRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 messages")
	}
	ns := startJS(t)
	_, js := connect(t, ns)
	prefix := newPrefix()
	c := newTally()
	opts := []jetstream.ServerOption{jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"),
		jetstream.WithCreateStream(), jetstream.WithPrefix(prefix)}
	stop := running(t, jetstream.NewServer(counting(c), opts...))
	publishAll(t, js, prefix+".d.work", deliveryN)
	restarts := 0
	for at := 5000; at < deliveryN; at += 5000 {
		c.waitUnique(t, at, time.Minute)
		if stopErr, startErr := stop(30 * time.Second); stopErr != nil || startErr != nil {
			t.Fatalf("restart %d: Stop = %v, Start = %v", restarts, stopErr, startErr)
		}
		restarts++
		stop = running(t, jetstream.NewServer(counting(c), opts...))
	}
	c.waitUnique(t, deliveryN, time.Minute)
	if stopErr, _ := stop(30 * time.Second); stopErr != nil {
		t.Fatal(stopErr)
	}
	unique, dups := c.result()
	info := consumerInfo(t, js, prefix+"_d")
	t.Logf("%d messages, %d restarts: %d handled, %d duplicates; consumer: %d pending, %d unacknowledged, %d redelivered",
		deliveryN, restarts, unique, dups, info.NumPending, info.NumAckPending, info.NumRedelivered)
	if unique != deliveryN || dups != 0 || info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("lost %d, duplicates %d, pending %d, unacknowledged %d; want all 0",
			deliveryN-unique, dups, info.NumPending, info.NumAckPending)
	}
}

// proxy forwards TCP connections to addr until cut, which severs them all
// at once, as a network failure would, and refuses new ones.
type proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, addr string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	p.wg.Go(func() {
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
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
			p.wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
		}
	})
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *proxy) cut() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// TestDeliveryConnectionCut cuts a server's connection mid-stream, without
// Stop; another server takes over its messages once their AckWait passed.
// Nothing is lost. A message is handled by both servers only if the first
// handled it and its Ack was lost, so at most MaxAckPending of them. A
// server handles a message twice itself only if a stall of the process
// outlasted AckWait before an InProgress went out (possible on a loaded
// machine, not otherwise): those are reported apart, and bounded alike.
func TestDeliveryConnectionCut(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 messages")
	}
	const maxAckPending = 200
	ns := startJS(t)
	_, js := connect(t, ns)
	prefix := newPrefix()
	c := newTally()
	px := newProxy(t, ns.URL()[len("nats://"):])
	opts := []jetstream.ServerOption{jetstream.WithDurable("test"), jetstream.WithCreateStream(), jetstream.WithPrefix(prefix),
		jetstream.WithAckWait(2 * time.Second), jetstream.WithMaxAckPending(maxAckPending)}
	a, b := newTally(), newTally()
	stopA := running(t, jetstream.NewServer(countingAlso(c, a), append(opts, jetstream.WithURL(px.url()))...))
	publishAll(t, js, prefix+".d.work", deliveryN)
	c.waitUnique(t, deliveryN/2, time.Minute)
	px.cut()
	running(t, jetstream.NewServer(countingAlso(c, b), append(opts, jetstream.WithURL(ns.URL()))...))
	c.waitUnique(t, deliveryN, 2*time.Minute)
	_, _ = stopA(10 * time.Second) // its connection is gone: whatever it says
	unique, dups := c.result()
	_, selfA := a.result()
	_, selfB := b.result()
	both := shared(a, b)
	t.Logf("%d messages, connection cut at %d: %d handled, %d duplicates: %d by both servers (bound %d), %d by one server twice",
		deliveryN, deliveryN/2, unique, dups, both, maxAckPending, selfA+selfB)
	if unique != deliveryN || both > maxAckPending || selfA+selfB > maxAckPending {
		t.Fatalf("lost %d, duplicates %d by both servers, %d by one; want 0 lost, at most %d of each",
			deliveryN-unique, both, selfA+selfB, maxAckPending)
	}
}

// TestDeliveryServerRestart restarts the nats-server on the same store
// mid-stream: nothing is lost.
func TestDeliveryServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 messages")
	}
	ns := startJS(t)
	_, js := connect(t, ns)
	prefix := newPrefix()
	c := newTally()
	opts := []jetstream.ServerOption{jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithAckWait(2 * time.Second)}
	stop := running(t, jetstream.NewServer(counting(c), opts...))
	publishAll(t, js, prefix+".d.work", deliveryN)
	c.waitUnique(t, deliveryN/2, time.Minute)
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	c.waitUnique(t, deliveryN, 2*time.Minute)
	if stopErr, startErr := stop(30 * time.Second); stopErr != nil || startErr != nil {
		t.Fatalf("Stop = %v, Start = %v", stopErr, startErr)
	}
	unique, dups := c.result()
	t.Logf("%d messages, nats-server restarted at %d: %d handled, %d duplicates", deliveryN, deliveryN/2, unique, dups)
	if unique != deliveryN {
		t.Fatalf("lost %d", deliveryN-unique)
	}
}
