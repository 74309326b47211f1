package micro_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestWrapClient(t *testing.T) {
	m := micro.NewMux()
	m.HandleFunc("a", "echo", func(ctx context.Context, req []byte) ([]byte, error) {
		return append([]byte(micro.RequestInfoFrom(ctx).Header.Get("token")+":"), req...), nil
	})
	sent := make(chan string, 1)
	m.HandleFunc("a", "sink", func(ctx context.Context, req []byte) ([]byte, error) {
		sent <- micro.RequestInfoFrom(ctx).Header.Get("token")
		return nil, nil
	})
	srv := inproc.NewServer(m)
	go srv.Start(t.Context())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	var seen []string
	record := func(name string) micro.ClientMiddleware {
		return func(next micro.Invoker) micro.Invoker {
			return func(ctx context.Context, c *micro.Call, req []byte) ([]byte, error) {
				seen = append(seen, fmt.Sprintf("%s %s.%s oneway=%v", name, c.Namespace, c.Service, c.OneWay))
				return next(micro.WithHeader(ctx, "token", name), c, req)
			}
		}
	}
	c := micro.WrapClient(inproc.NewClient(srv), record("outer"), record("inner"))
	resp, err := c.Call(t.Context(), "a", "echo", []byte("x"))
	if err != nil || string(resp) != "inner:x" {
		t.Fatalf("Call = %q, %v", resp, err)
	}
	if err := c.Send(t.Context(), "a", "sink", nil); err != nil {
		t.Fatal(err)
	}
	if got := <-sent; got != "inner" {
		t.Fatalf("Send carried token %q", got)
	}
	want := []string{"outer a.echo oneway=false", "inner a.echo oneway=false", "outer a.sink oneway=true", "inner a.sink oneway=true"}
	if !slices.Equal(seen, want) {
		t.Fatalf("middleware saw %q, want %q", seen, want)
	}
	if plain := inproc.NewClient(srv); micro.WrapClient(plain) != micro.Client(plain) {
		t.Fatal("WrapClient without middleware must return the client itself")
	}
}
