package grpc_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
)

// tlsServer serves echoMux over TLS with a certificate of ca; if clients is
// not nil, it requires client certificates signed by it.
func tlsServer(t *testing.T, ca, clients *testutil.CA) *grpc.Server {
	t.Helper()
	cfg := ca.ServerConfig(t)
	if clients != nil {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clients.Pool
	}
	srv := grpc.NewServer(echoMux(), grpc.WithAddress("127.0.0.1:0"), grpc.WithTLS(cfg))
	microtest.Serve(t, nil, srv)
	return srv
}

func TestTLS(t *testing.T) {
	ca := testutil.NewCA(t, "ca")
	srv := tlsServer(t, ca, nil)
	c := dial(t, srv, grpc.WithTLS(&tls.Config{RootCAs: ca.Pool}))
	if resp, err := c.Call(testCtx(t), "test", "echo", []byte("secret")); err != nil || string(resp) != "secret" {
		t.Fatalf("Call over TLS = %q, %v", resp, err)
	}

	// A client that does not trust the server's CA, or speaks plaintext,
	// fails promptly.
	for name, opts := range map[string][]grpc.ClientOption{
		"untrusted": {grpc.WithTLS(&tls.Config{RootCAs: testutil.NewCA(t, "other").Pool})},
		"plaintext": nil,
	} {
		t.Run(name, func(t *testing.T) { wantRefused(t, dial(t, srv, opts...)) })
	}
}

func TestMutualTLS(t *testing.T) {
	ca := testutil.NewCA(t, "ca")
	srv := tlsServer(t, ca, ca)
	roots := &tls.Config{RootCAs: ca.Pool}
	withCert := func(ca *testutil.CA) *tls.Config {
		return &tls.Config{RootCAs: roots.RootCAs, Certificates: []tls.Certificate{ca.ClientCert(t)}}
	}

	c := dial(t, srv, grpc.WithTLS(withCert(ca)))
	if resp, err := c.Call(testCtx(t), "test", "echo", []byte("mutual")); err != nil || string(resp) != "mutual" {
		t.Fatalf("Call over mutual TLS = %q, %v", resp, err)
	}

	for name, cfg := range map[string]*tls.Config{
		"no certificate":  roots,
		"other authority": withCert(testutil.NewCA(t, "other")),
	} {
		t.Run(name, func(t *testing.T) { wantRefused(t, dial(t, srv, grpc.WithTLS(cfg))) })
	}
}

// wantRefused checks that a call of c fails with Unavailable well before its
// deadline: a rejected handshake must not hang.
func wantRefused(t *testing.T, c *grpc.Client) {
	t.Helper()
	start := time.Now()
	_, err := c.Call(testCtx(t), "test", "echo", []byte("x"))
	testutil.WantCode(t, err, micro.Unavailable, "")
	if d := time.Since(start); d > microtest.Timeout/2 {
		t.Fatalf("refusal took %v", d)
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
}
