// Package kafkatest runs an in-process Kafka cluster (franz-go's kfake) for
// tests of services served with micro's Kafka transport, so that a test
// writes no broker set-up:
//
//	kc := kafkatest.Start(t, kafkatest.WithTopics(4, "greeter"))
//	srv := kafka.NewServer(mux, kafka.WithBrokers(kc.Addrs()...))
//
// The cluster has one broker on a random loopback port and is closed when
// the test ends. It can be shut down and restarted on the same ports and,
// with [WithDataDir], the same data, to test what a service does when its
// brokers go away; [Cluster.Crash] stops it as a killed process stops.
//
// Importing this package links kfake; importing micro's transport packages
// does not.
package kafkatest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errCrashed drops the connections of a crashed cluster.
var errCrashed = errors.New("kafkatest: crashed")

// ErrClosed is returned by [Cluster.Restart] after [Cluster.Close].
var ErrClosed = errors.New("kafkatest: cluster closed")

// Cluster is an in-process Kafka cluster made by [Start] or [New]. Its
// methods are safe for concurrent use: a test may restart it from one
// goroutine while others use it.
type Cluster struct {
	opts   []kfake.Opt // what every start is given; the ports fixed after the first
	ports  kfake.Opt
	addrs  []string
	mu     sync.Mutex
	c      *kfake.Cluster
	closed bool
	dir    string   // the data directory in use, "" in memory
	copies []string // data directories made by Crash, removed at Close
}

// Start starts a cluster for t; its brokers accept connections when Start
// returns. By default it has one broker on a random port of 127.0.0.1, no
// topics and Kafka's default limits; see the options. The cluster is closed
// when t's cleanup runs. Start fails t with t.Fatal if the cluster does not
// start, so it must be called from the test's goroutine.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// New starts a cluster like [Start] for a caller that has no testing.TB,
// such as TestMain or an example. The caller must call [Cluster.Close].
func New(opts ...Option) (*Cluster, error) {
	cfg := &config{brokers: 1}
	for _, o := range opts {
		o(cfg)
	}
	kc := &Cluster{opts: cfg.kfakeOptions()}
	kc.dir = cfg.dataDir
	c, err := kfake.NewCluster(kc.opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	kc.c, kc.addrs = c, c.ListenAddrs()
	ports := make([]int, 0, len(kc.addrs))
	for _, a := range kc.addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("kafkatest: broker address %q: %w", a, err)
		}
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	kc.ports = kfake.Ports(ports...)
	kc.opts = append(kc.opts, kc.ports) // a restart binds the same ports
	return kc, nil
}

// Addrs returns the brokers' host:port addresses, for kafka.WithBrokers or
// kgo.SeedBrokers. They do not change across restarts.
func (kc *Cluster) Addrs() []string { return append([]string(nil), kc.addrs...) }

// SeedBrokers returns the brokers' addresses joined by commas, as Kafka's
// bootstrap.servers and the MICRO_KAFKA_BROKERS variable spell them.
func (kc *Cluster) SeedBrokers() string { return strings.Join(kc.addrs, ",") }

// Kfake returns the kfake cluster running now (or, after Shutdown, the one
// that ran last), for what this package does not wrap, such as Control to
// inject failures or CreateTopic. A Restart replaces it.
func (kc *Cluster) Kfake() *kfake.Cluster {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.c
}

// Shutdown stops the cluster, as an outage would: clients lose their
// connections, and get them back once [Cluster.Restart] starts it again.
// It blocks until the brokers have stopped and, with [WithDataDir], their
// state is on disk. Shutting down a stopped cluster does nothing.
func (kc *Cluster) Shutdown() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.c.Close()
}

// Restart shuts the cluster down if it is running and starts a new one on
// the same ports and options. The new cluster has the data of the old one
// if [WithDataDir] was given (seeded topics are not seeded again), and is
// empty but for the seeded topics otherwise. Restart returns an error,
// rather than failing the test, so that it can be called from any
// goroutine; it fails if a port was taken in between, or the cluster was
// closed ([ErrClosed]).
func (kc *Cluster) Restart() error {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.closed {
		return ErrClosed
	}
	kc.c.Close()
	c, err := kfake.NewCluster(kc.opts...)
	if err != nil {
		return fmt.Errorf("kafkatest: restart: %w", err)
	}
	kc.c = c
	return nil
}

// Crash stops the cluster as a killed broker process would stop, and
// starts it again on the same ports: the new cluster has the data that was
// on disk at that instant, in the [WithDataDir] directory's place a copy of
// it taken while the cluster ran, so nothing the old cluster does at
// shutdown (its final save) reaches the new one. Clients lose their
// connections, and the new cluster knows nothing of what was not written
// yet: a group's generation, say. Crash needs [WithDataDir]; the copies it
// makes are removed at Close. Like Restart it returns an error rather than
// failing the test.
func (kc *Cluster) Crash() error {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.closed {
		return ErrClosed
	}
	if kc.dir == "" {
		return errors.New("kafkatest: Crash needs WithDataDir")
	}
	snap, err := os.MkdirTemp("", "kafkatest-crash-")
	if err != nil {
		return fmt.Errorf("kafkatest: crash: %w", err)
	}
	kc.copies = append(kc.copies, snap)
	// From now on the cluster answers nothing: what it would still accept
	// (a commit, a record) is not in the copy, as a dead process answers
	// nothing. Close wakes the held requests and drops their connections.
	old, frozen := kc.c, make(chan struct{})
	defer close(frozen)
	old.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		old.KeepControl()
		old.SleepControl(func() { <-frozen })
		return nil, errCrashed, true
	})
	if err := os.CopyFS(snap, os.DirFS(kc.dir)); err != nil {
		old.Close()
		return fmt.Errorf("kafkatest: crash: copy data: %w", err)
	}
	old.Close() // saves to the directory the new cluster does not use
	kc.dir = snap
	kc.opts = append(kc.opts, kfake.DataDir(snap), kc.ports) // later options win
	c, err := kfake.NewCluster(kc.opts...)
	if err != nil {
		return fmt.Errorf("kafkatest: crash: restart: %w", err)
	}
	kc.c = c
	return nil
}

// Close shuts the cluster down for good. It blocks until the brokers have
// stopped; closing twice does nothing. [Start] registers Close with
// t.Cleanup.
func (kc *Cluster) Close() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.closed = true
	kc.c.Close()
	for _, dir := range kc.copies {
		os.RemoveAll(dir)
	}
	kc.copies = nil
}
