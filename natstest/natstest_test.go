package natstest_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, ns *natstest.Server, opts ...natsgo.Option) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(ns.URL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestStart(t *testing.T) {
	ns := natstest.Start(t)
	if !strings.HasPrefix(ns.URL(), "nats://127.0.0.1:") || ns.Port() <= 0 {
		t.Fatalf("URL %q, port %d", ns.URL(), ns.Port())
	}
	if ns.StoreDir() != "" || ns.NATSServer().JetStreamEnabled() {
		t.Error("JetStream is on without WithJetStream")
	}
	nc := connect(t, ns)
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("NextMsg = %v, %v", m, err)
	}
	if n := ns.NATSServer().NumClients(); n != 1 {
		t.Errorf("NumClients = %d, want 1", n)
	}
}

func TestServerOptions(t *testing.T) {
	ns := natstest.Start(t, natstest.WithServerOptions(&server.Options{Authorization: "secret"}), natstest.WithMaxPayload(2<<20))
	if _, err := natsgo.Connect(ns.URL()); err == nil {
		t.Error("connected without the token")
	}
	nc := connect(t, ns, natsgo.Token("secret"))
	if got := nc.MaxPayload(); got != 2<<20 {
		t.Errorf("MaxPayload = %d, want %d", got, 2<<20)
	}
}

func TestWithPort(t *testing.T) {
	first := natstest.Start(t)
	port := first.Port()
	first.Close()
	ns := natstest.Start(t, natstest.WithPort(port))
	if ns.Port() != port || ns.URL() != first.URL() {
		t.Fatalf("port %d, URL %q; want %d, %q", ns.Port(), ns.URL(), port, first.URL())
	}
	connect(t, ns)
}

// TestRestart restarts a server under a connected client, which
// reconnects, and keeps the JetStream store.
func TestRestart(t *testing.T) {
	ns := natstest.Start(t, natstest.WithJetStream())
	if ns.StoreDir() == "" {
		t.Fatal("no store dir with WithJetStream")
	}
	nc := connect(t, ns, natsgo.ReconnectWait(10*time.Millisecond), natsgo.MaxReconnects(-1))
	reconnected := nc.StatusChanged(natsgo.RECONNECTING, natsgo.CONNECTED)
	defer nc.RemoveStatusListener(reconnected)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "work", Subjects: []string{"work.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "work.a", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	ns.Shutdown()
	ns.Shutdown() // a second does nothing
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // RECONNECTING, then CONNECTED
		select {
		case <-reconnected:
		case <-t.Context().Done():
			t.Fatal("no reconnect")
		}
	}
	msg, err := stream.GetLastMsgForSubject(t.Context(), "work.a")
	if err != nil || string(msg.Data) != "kept" {
		t.Fatalf("after restart: %v, %v", msg, err)
	}

	ns.Close()
	if err := ns.Restart(); !errors.Is(err, natstest.ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}

// TestStoreDir starts a second server on the store of a first.
func TestStoreDir(t *testing.T) {
	dir := t.TempDir()
	first := natstest.Start(t, natstest.WithStoreDir(dir))
	js, err := jetstream.New(connect(t, first))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "work"}); err != nil {
		t.Fatal(err)
	}
	first.Close()

	second := natstest.Start(t, natstest.WithStoreDir(dir))
	if second.StoreDir() != dir {
		t.Errorf("StoreDir = %q, want %q", second.StoreDir(), dir)
	}
	js, err = jetstream.New(connect(t, second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(t.Context(), "work"); err != nil {
		t.Fatalf("stream of the first server: %v", err)
	}
}

func TestNew(t *testing.T) {
	ns, err := natstest.New(natstest.WithJetStream())
	if err != nil {
		t.Fatal(err)
	}
	dir := ns.StoreDir()
	if dir == "" || !ns.NATSServer().JetStreamEnabled() {
		t.Fatal("JetStream is off")
	}
	ns.Close()
	ns.Close()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store %s after Close: %v", dir, err)
	}
}

// TestPortTaken reports a port in use as an error, not a hang.
func TestPortTaken(t *testing.T) {
	ns := natstest.Start(t)
	if _, err := natstest.New(natstest.WithPort(ns.Port())); err == nil {
		t.Fatal("New on a port in use succeeded")
	}
}

// TestNoBrokerInTransport checks that a program importing micro's NATS
// transport does not link nats-server: only this package does.
func TestNoBrokerInTransport(t *testing.T) {
	testutil.NotLinked(t, "github.com/dancinggopher/micro/transport/nats", "github.com/nats-io/nats-server/", "github.com/dancinggopher/micro/natstest")
}
