package inproc_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLimit = 64 << 10

func TestConformance(t *testing.T) {
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := inproc.NewServer(mux, inproc.WithMaxMessageSize(testLimit))
			microtest.Serve(t, nil, srv)
			c := inproc.NewClient(srv)
			t.Cleanup(func() { c.Close() })
			return srv, c
		},
		MaxMessageSize: testLimit,
	})
}

// TestDerivedContexts checks that contexts a handler derives from its ctx
// follow its cancellation without a goroutine each.
func TestDerivedContexts(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("a", "b", func(ctx context.Context, _ []byte) ([]byte, error) {
		before := runtime.NumGoroutine()
		var cancels []context.CancelFunc
		for range 20 {
			_, cancel := context.WithTimeout(ctx, time.Hour)
			cancels = append(cancels, cancel)
		}
		started := runtime.NumGoroutine() - before
		for _, cancel := range cancels {
			cancel()
		}
		if started >= 10 {
			return nil, fmt.Errorf("20 derived contexts started %d goroutines", started)
		}
		return nil, nil
	})
	srv := inproc.NewServer(m)
	microtest.Serve(t, nil, srv)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a ctx that can end: the handler's own goroutine
	defer cancel()
	if _, err := inproc.NewClient(srv).Call(ctx, "a", "b", nil); err != nil {
		t.Fatal(err)
	}
}
