package testutil_test

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/testutil"
)

// A TLS test gets a server and a client configuration of one CA.
func ExampleTLS() {
	testTLS := func(t *testing.T) {
		server, client := testutil.TLS(t)
		l, err := tls.Listen("tcp", "127.0.0.1:0", server)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// ... serve on l; dial it with tls.Dial("tcp", l.Addr().String(), client).
		_ = client
	}
	_ = testTLS
}

func ExampleWantCode() {
	testNotFound := func(t *testing.T) {
		err := fmt.Errorf("call: %w", micro.NewError(micro.NotFound, "no such service"))
		testutil.WantCode(t, err, micro.NotFound, "no such service")
	}
	_ = testNotFound
}
