package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// BenchmarkHandlerContext compares the kit's handler context with the same
// context built from the standard context functions (a value, a deadline
// and its timer, following the caller), around the same Mux call: the
// reason the kit has a context type of its own.
func BenchmarkHandlerContext(b *testing.B) {
	m := micro.NewMux()
	m.HandleFunc("b", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	d := &transport.Dispatcher{Mux: m, Transport: "bench"}
	base := context.Background()
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := make([]byte, 64)
	b.Run("ctx=kit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := d.Serve(base, &transport.Request{Namespace: "b", Service: "echo", Body: req,
				Deadline: time.Now().Add(time.Minute), Caller: caller})
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	})
	b.Run("ctx=standard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			info := &micro.RequestInfo{Namespace: "b", Service: "echo", Transport: "bench", ReplyHeader: micro.Header{}}
			ctx := transport.NewContext(base, info)
			ctx, cancelCtx := context.WithDeadline(ctx, time.Now().Add(time.Minute))
			stop := context.AfterFunc(caller, cancelCtx)
			_, err := m.Serve(ctx, "b", "echo", req)
			stop()
			cancelCtx()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
