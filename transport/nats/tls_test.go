package nats_test

import (
	"crypto/tls"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// TestTLS serves and calls over a TLS-only NATS server, configured through
// WithConnOptions; without the CA the client fails at once.
func TestTLS(t *testing.T) {
	serverTLS, clientTLS := testutil.TLS(t)
	ns := natstest.Start(t, natstest.WithServerOptions(&server.Options{TLS: true, TLSTimeout: 5, TLSConfig: serverTLS}))
	secure := nats.WithConnOptions(natsgo.Secure(clientTLS))
	_, c := serve(t, ns, echoMux(nil, nil), secure)
	if got, err := c.Call(testCtx(t), "test", "echo", []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("Call over TLS = %q, %v", got, err)
	}
	timed(t, func() {
		_, err := nats.NewClient(nats.WithURL(ns.URL()), nats.WithConnOptions(natsgo.Secure(&tls.Config{MinVersion: tls.VersionTLS12})))
		testutil.WantCode(t, err, micro.Unavailable, "")
	})
}
