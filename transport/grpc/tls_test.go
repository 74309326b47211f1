package grpc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a certificate signed by ca, for a server on 127.0.0.1 or for
// a client.
func (ca *testCA) issue(t *testing.T, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.Subject.CommonName = "server"
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsServer serves echoMux over TLS with a certificate of ca; if clients is
// not nil, it requires client certificates signed by it.
func tlsServer(t *testing.T, ca *testCA, clients *testCA) *grpc.Server {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, true)}, MinVersion: tls.VersionTLS12}
	if clients != nil {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clients.pool
	}
	srv := grpc.NewServer(echoMux(), grpc.WithAddress("127.0.0.1:0"), grpc.WithTLS(cfg))
	microtest.Serve(t, nil, srv)
	return srv
}

func TestTLS(t *testing.T) {
	ca := newCA(t, "ca")
	srv := tlsServer(t, ca, nil)
	c := dial(t, srv, grpc.WithTLS(&tls.Config{RootCAs: ca.pool}))
	if resp, err := c.Call(testCtx(t), "test", "echo", []byte("secret")); err != nil || string(resp) != "secret" {
		t.Fatalf("Call over TLS = %q, %v", resp, err)
	}

	// A client that does not trust the server's CA, or speaks plaintext,
	// fails promptly.
	for name, opts := range map[string][]grpc.ClientOption{
		"untrusted": {grpc.WithTLS(&tls.Config{RootCAs: newCA(t, "other").pool})},
		"plaintext": nil,
	} {
		t.Run(name, func(t *testing.T) { wantRefused(t, dial(t, srv, opts...)) })
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "ca")
	srv := tlsServer(t, ca, ca)
	roots := &tls.Config{RootCAs: ca.pool}
	withCert := func(ca *testCA) *tls.Config {
		return &tls.Config{RootCAs: roots.RootCAs, Certificates: []tls.Certificate{ca.issue(t, false)}}
	}

	c := dial(t, srv, grpc.WithTLS(withCert(ca)))
	if resp, err := c.Call(testCtx(t), "test", "echo", []byte("mutual")); err != nil || string(resp) != "mutual" {
		t.Fatalf("Call over mutual TLS = %q, %v", resp, err)
	}

	for name, cfg := range map[string]*tls.Config{
		"no certificate":  roots,
		"other authority": withCert(newCA(t, "other")),
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
	wantCode(t, err, micro.Unavailable)
	if d := time.Since(start); d > microtest.Timeout/2 {
		t.Fatalf("refusal took %v", d)
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
}
