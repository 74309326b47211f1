package jetstream_test

import (
	"context"
	"fmt"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/jetstream"
)

// A service served from JetStream: a one-way message sent with Send is
// stored in the stream and handled at least once; Call works too, its
// reply coming back over core NATS.
func Example() {
	ns, err := natstest.New(natstest.WithJetStream())
	if err != nil {
		panic(err)
	}
	defer ns.Close()

	handled := make(chan string, 1)
	mux := micro.NewMux()
	mux.HandleFunc("orders", "place", func(_ context.Context, req []byte) ([]byte, error) {
		handled <- string(req)
		return nil, nil
	})
	mux.HandleFunc("orders", "count", func(context.Context, []byte) ([]byte, error) {
		return []byte("1"), nil
	})

	svc := micro.NewService("orders")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		ran <- svc.Run(ctx, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithCreateStream()))
	}()
	<-svc.Ready()

	c, err := jetstream.NewClient(jetstream.WithURL(ns.URL()))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Send(ctx, "orders", "place", []byte("order 1")))
	fmt.Println(<-handled)
	n, err := c.Call(ctx, "orders", "count", nil)
	fmt.Println(string(n), err)
	_, err = c.Call(ctx, "orders", "cancel", nil)
	fmt.Println(err)

	stop()
	fmt.Println(<-ran)
	// Output:
	// <nil>
	// order 1
	// 1 <nil>
	// NotFound: no service "cancel" in namespace "orders"
	// <nil>
}
