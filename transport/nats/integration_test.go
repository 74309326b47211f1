//go:build integration

package nats_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/nats"
)

// TestConformanceExternal runs the conformance suite against the NATS
// server at MICRO_NATS_URL, under a subject prefix of its own so that it
// cannot meet other services there.
func TestConformanceExternal(t *testing.T) {
	url := os.Getenv("MICRO_NATS_URL")
	if url == "" {
		t.Skip("MICRO_NATS_URL is not set")
	}
	prefix := "microtest" + strconv.FormatInt(time.Now().UnixNano(), 36)
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			at, pre, size := nats.WithURL(url), nats.WithPrefix(prefix), nats.WithMaxMessageSize(testLimit)
			srv := nats.NewServer(mux, at, pre, size)
			microtest.Serve(t, nil, srv)
			c, err := nats.NewClient(at, pre, size)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		MaxMessageSize: testLimit,

		Features: microtest.Features{UnknownNamespace: micro.Unavailable, NoCancel: true},
	})
}
