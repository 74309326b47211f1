package inproc_test

import (
	"context"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// BenchmarkCall measures a request-reply through the inproc transport with an
// echo handler: admission, the handler's context, and both copies.
func BenchmarkCall(b *testing.B) {
	m := micro.NewMux()
	m.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	srv := inproc.NewServer(m)
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()
	c := inproc.NewClient(srv)
	ctx := context.Background()
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"4KiB", 4 << 10}} {
		req := make([]byte, size.n)
		b.Run("size="+size.name+"/mode=seq", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := c.Call(ctx, "bench", "echo", req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("size="+size.name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Call(ctx, "bench", "echo", req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
