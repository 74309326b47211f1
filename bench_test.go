package micro_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dancinggopher/micro"
)

// BenchmarkMuxServe measures a routed call to a trivial handler: the lookup,
// the deadline check and the panic guard.
func BenchmarkMuxServe(b *testing.B) {
	m := micro.NewMux()
	for i := range 50 {
		m.HandleFunc("ns", fmt.Sprintf("svc%d", i), echo)
	}
	m.HandleFunc("greeter", "hello", echo)
	req, ctx := []byte("hello"), context.Background()
	b.Run("mode=seq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = m.Serve(ctx, "greeter", "hello", req)
		}
	})
	b.Run("mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.Serve(ctx, "greeter", "hello", req)
			}
		})
	})
}
