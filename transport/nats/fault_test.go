package nats_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// TestNATSServerRestart shuts the NATS server down in the middle of 10,000
// calls from 16 goroutines and starts it again on the same port. Every call
// must succeed or fail with a typed error within its deadline; afterwards
// the server has re-subscribed and calls succeed.
func TestNATSServerRestart(t *testing.T) {
	const (
		calls      = 10_000
		callers    = 16
		restartAt  = 2_000
		callBudget = 2 * time.Second
	)
	ns := natstest.Start(t)
	quick := []natsgo.Option{natsgo.ReconnectWait(10 * time.Millisecond), natsgo.ReconnectJitter(0, 0), natsgo.MaxReconnects(-1)}

	srvConn := connect(t, ns, quick...)
	reconnected := srvConn.StatusChanged(natsgo.CONNECTED)
	defer srvConn.RemoveStatusListener(reconnected)
	srv := nats.NewServer(echoMux(nil, nil), nats.WithConn(srvConn))
	microtest.Serve(t, nil, srv)
	c := newClient(t, ns, nats.WithConnOptions(quick...))

	restart := make(chan struct{})
	restarted := make(chan error, 1)
	go func() {
		<-restart
		restarted <- ns.Restart()
	}()

	var (
		next, finished atomic.Int64
		mu             sync.Mutex
		codes          = map[micro.Code]int{}
		slowest        time.Duration
		wg             sync.WaitGroup
	)
	for range callers {
		wg.Go(func() {
			for i := next.Add(1); i <= calls; i = next.Add(1) {
				req := []byte(fmt.Sprint(i))
				ctx, cancel := context.WithTimeout(context.Background(), callBudget)
				start := time.Now()
				resp, err := c.Call(ctx, "test", "echo", req)
				took := time.Since(start)
				cancel()
				if err == nil && string(resp) != string(req) {
					err = fmt.Errorf("reply %q to %q", resp, req)
				}
				if _, typed := errors.AsType[*micro.Error](err); err != nil && !typed {
					t.Errorf("call %d: untyped error %v", i, err)
				}
				mu.Lock()
				codes[micro.CodeOf(err)]++
				slowest = max(slowest, took)
				mu.Unlock()
				if finished.Add(1) == restartAt {
					close(restart)
				}
			}
		})
	}
	wg.Wait()
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	t.Logf("outcomes of %d calls: %v; slowest %v", calls, codes, slowest)
	for code := range codes {
		if code != micro.OK && code != micro.Unavailable && code != micro.DeadlineExceeded {
			t.Errorf("%d calls failed with %v", codes[code], code)
		}
	}
	if slowest > callBudget+time.Second {
		t.Errorf("slowest call took %v with a deadline of %v", slowest, callBudget)
	}

	// Once the server's connection is back and its subscriptions are
	// registered again, every call succeeds.
	select {
	case <-reconnected:
	case <-testCtx(t).Done():
		t.Fatal("server connection never reconnected")
	}
	if err := srvConn.FlushWithContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := c.Call(testCtx(t), "test", "echo", nil); err != nil {
			t.Fatalf("call %d after restart: %v", i, err)
		}
	}
	if err := srv.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestStopWhileDisconnected stops a server whose NATS server is gone: Stop
// must not wait for a drain that cannot happen.
func TestStopWhileDisconnected(t *testing.T) {
	ns := natstest.Start(t)
	srv := nats.NewServer(echoMux(nil, nil), nats.WithURL(ns.URL()))
	microtest.Serve(t, nil, srv)
	ns.Shutdown()
	timed(t, func() {
		if err := srv.Stop(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	})
}
