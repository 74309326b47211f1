// Package natstest runs an embedded NATS server (nats-server, in the test's
// process) for tests of services served with micro's NATS transport, so
// that a test writes no broker set-up:
//
//	ns := natstest.Start(t)
//	srv := nats.NewServer(mux, nats.WithURL(ns.URL()))
//
// The server listens on a random loopback port and is shut down when the
// test ends. It can be shut down and restarted on the same port and
// JetStream store, to test what a service does when its NATS server goes
// away.
//
// Importing this package links nats-server; importing micro's transport
// packages does not.
package natstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long a start waits for the server to accept
// connections.
const readyTimeout = 10 * time.Second

// ErrClosed is returned by [Server.Restart] after [Server.Close].
var ErrClosed = errors.New("natstest: server closed")

// Server is an embedded nats-server made by [Start] or [New]. Its methods
// are safe for concurrent use: a test may restart it from one goroutine
// while others use it.
type Server struct {
	opts     *server.Options // what every start is given a clone of; Port fixed after the first
	url      string
	port     int
	tempDir  string // a store New made, removed by Close
	mu       sync.Mutex
	ns       *server.Server
	closed   bool
	storeDir string
}

// Start starts a nats-server for t and waits until it accepts connections.
// By default it listens on a random port of 127.0.0.1, without JetStream;
// see the options. A JetStream store defaults to a directory of
// t.TempDir(). The server is closed when t's cleanup runs. Start fails t
// with t.Fatal if the server does not start within 10 seconds, so it must
// be called from the test's goroutine.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c := newConfig(opts)
	if c.jetStream && c.storeDir == "" {
		c.storeDir = t.TempDir()
	}
	s, err := c.start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a nats-server like [Start] for a caller that has no
// testing.TB, such as TestMain or an example, and waits until it accepts
// connections. A JetStream store defaults to a new directory under
// os.TempDir(), removed by [Server.Close]. The caller must call Close.
func New(opts ...Option) (*Server, error) {
	c := newConfig(opts)
	var temp string
	if c.jetStream && c.storeDir == "" {
		dir, err := os.MkdirTemp("", "natstest-")
		if err != nil {
			return nil, fmt.Errorf("natstest: JetStream store: %w", err)
		}
		c.storeDir, temp = dir, dir
	}
	s, err := c.start()
	if err != nil {
		if temp != "" {
			os.RemoveAll(temp)
		}
		return nil, err
	}
	s.tempDir = temp
	return s, nil
}

// start starts the first server of c.
func (c *config) start() (*Server, error) {
	opts := c.serverOptions()
	s := &Server{opts: opts, storeDir: opts.StoreDir}
	ns, err := s.run()
	if err != nil {
		return nil, err
	}
	s.ns = ns
	if addr, ok := ns.Addr().(*net.TCPAddr); ok {
		s.port = addr.Port
		s.opts.Port = addr.Port // a restart binds the same port
	}
	s.url = ns.ClientURL()
	return s, nil
}

// run starts a nats-server on s.opts and waits until it is ready.
func (s *Server) run() (*server.Server, error) {
	if s.opts.Port > 0 {
		// nats-server reports a port in use only by never becoming
		// ready; find out at once.
		l, err := net.Listen("tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)))
		if err != nil {
			return nil, fmt.Errorf("natstest: %w", err)
		}
		l.Close()
	}
	// nats-server fills in the options it is given; each start gets its own.
	ns, err := server.NewServer(s.opts.Clone())
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natstest: nats-server on %s:%d not ready after %v", s.opts.Host, s.opts.Port, readyTimeout)
	}
	return ns, nil
}

// URL returns the URL clients connect to, such as "nats://127.0.0.1:4222".
// It does not change across restarts.
func (s *Server) URL() string { return s.url }

// Port returns the port the server listens on. It does not change across
// restarts.
func (s *Server) Port() int { return s.port }

// StoreDir returns the directory of the JetStream store, or "" if
// JetStream is off.
func (s *Server) StoreDir() string { return s.storeDir }

// NATSServer returns the nats-server running now (or, after Shutdown, the
// one that ran last), for what this package does not wrap, such as
// NumClients or JetStreamEnabled. A Restart replaces it.
func (s *Server) NATSServer() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns
}

// Shutdown stops the server, as an outage would: clients are
// disconnected, and they reconnect once [Server.Restart] starts it again.
// It blocks until the server has stopped. Shutting down a stopped server
// does nothing.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown()
}

func (s *Server) shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// Restart shuts the server down if it is running and starts a new one on
// the same port, options and JetStream store, then waits until it accepts
// connections. It returns an error, rather than failing the test, so that
// it can be called from any goroutine; it fails if the port was taken in
// between, the new server is not ready within 10 seconds, or the server
// was closed ([ErrClosed]).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.shutdown()
	ns, err := s.run()
	if err != nil {
		return err
	}
	s.ns = ns
	return nil
}

// Close shuts the server down for good and removes a JetStream store that
// [New] made. It blocks until the server has stopped; closing twice does
// nothing. [Start] registers Close with t.Cleanup.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.shutdown()
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}
