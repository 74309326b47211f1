package nats_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/nats"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestTLS serves and calls over a TLS-only NATS server, configured through
// WithConnOptions; without the CA the client fails at once.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ns := runNATS(t, &server.Options{TLS: true, TLSTimeout: 5,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	secure := nats.WithConnOptions(natsgo.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	_, c := serve(t, ns, echoMux(nil, nil), secure)
	if got, err := c.Call(testCtx(t), "test", "echo", []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("Call over TLS = %q, %v", got, err)
	}
	timed(t, func() {
		_, err := nats.NewClient(nats.WithURL(ns.ClientURL()), nats.WithConnOptions(natsgo.Secure(&tls.Config{MinVersion: tls.VersionTLS12})))
		wantCode(t, err, micro.Unavailable)
	})
}
