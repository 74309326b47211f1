package testutil_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
)

// handshake dials a TLS listener of server with client and returns the
// peer certificates the server saw and the client's handshake error.
func handshake(t *testing.T, server, client *tls.Config, addr string) ([]*x509.Certificate, error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := make(chan []*x509.Certificate, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			seen <- nil
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if tc.Handshake() != nil {
			seen <- nil
			return
		}
		seen <- tc.ConnectionState().PeerCertificates
		io.Copy(io.Discard, conn)
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	conn, err := tls.Dial("tcp", net.JoinHostPort(addr, port), client)
	if err == nil {
		conn.Close()
	}
	return <-seen, err
}

func TestTLS(t *testing.T) {
	server, client := testutil.TLS(t)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := handshake(t, server, client.Clone(), host); err != nil {
			t.Errorf("handshake with %s: %v", host, err)
		}
	}
	if _, err := handshake(t, server, testutil.NewCA(t, "other").ClientConfig(), "127.0.0.1"); err == nil {
		t.Error("a client trusting another CA completed the handshake")
	}
}

func TestMutualTLS(t *testing.T) {
	ca := testutil.NewCA(t, "ca")
	server := ca.ServerConfig(t)
	server.ClientAuth, server.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool
	client := ca.ClientConfig()
	client.Certificates = []tls.Certificate{ca.ClientCert(t)}
	peers, err := handshake(t, server, client, "127.0.0.1")
	if err != nil || len(peers) != 1 || peers[0].Subject.CommonName != "client" {
		t.Fatalf("mutual handshake: %v, peers %v", err, peers)
	}
}

func TestWantCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", micro.NewError(micro.NotFound, "gone"))
	if e := testutil.WantCode(t, err, micro.NotFound, ""); e.Message != "gone" {
		t.Errorf("returned %v", e)
	}
	testutil.WantCode(t, err, micro.NotFound, "gone")
	for name, f := range map[string]func(testing.TB){
		"plain error":   func(t testing.TB) { testutil.WantCode(t, errors.New("x"), micro.NotFound, "") },
		"nil":           func(t testing.TB) { testutil.WantCode(t, nil, micro.NotFound, "") },
		"typed nil":     func(t testing.TB) { testutil.WantCode(t, error((*micro.Error)(nil)), micro.NotFound, "") },
		"other code":    func(t testing.TB) { testutil.WantCode(t, err, micro.Internal, "") },
		"other message": func(t testing.TB) { testutil.WantCode(t, err, micro.NotFound, "here") },
	} {
		if !fails(f) {
			t.Errorf("%s: WantCode did not fail", name)
		}
	}
}

// fails reports whether f fails the TB it is given.
func fails(f func(testing.TB)) bool {
	ft := &fakeTB{}
	done := make(chan struct{})
	go func() { // Fatal ends the goroutine with runtime.Goexit
		defer close(done)
		f(ft)
	}()
	<-done
	return ft.failed
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (*fakeTB) Helper()                 {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestNotLinked(t *testing.T) {
	testutil.NotLinked(t, "github.com/dancinggopher/micro/internal/testutil", "google.golang.org/grpc")
	if !fails(func(tb testing.TB) {
		testutil.NotLinked(tb, "github.com/dancinggopher/micro/internal/testutil", "crypto/tls")
	}) {
		t.Error("NotLinked did not fail on a package that is linked")
	}
}
