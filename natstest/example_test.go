package natstest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// A test of a service starts a NATS server with one call; it is shut down
// when the test ends.
func ExampleStart() {
	testGreeter := func(t *testing.T) {
		ns := natstest.Start(t, natstest.WithMaxPayload(8<<20))
		srv := nats.NewServer(greeterMux(), nats.WithURL(ns.URL()))
		// ... start srv, call it with nats.NewClient(nats.WithURL(ns.URL())),
		// or restart the NATS server under it with ns.Restart().
		_ = srv
	}
	_ = testGreeter
}

// Where there is no testing.TB, as in TestMain, New starts a server that
// the caller closes.
func ExampleNew() {
	ns, err := natstest.New()
	if err != nil {
		panic(err)
	}
	defer ns.Close()

	mux := greeterMux()
	svc := micro.NewService("greeter")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, nats.NewServer(mux, nats.WithURL(ns.URL()))) }()
	<-svc.Ready()

	c, err := nats.NewClient(nats.WithURL(ns.URL()))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	resp, err := c.Call(ctx, "greeter", "hello", []byte("NATS"))
	fmt.Println(string(resp), err)

	stop()
	fmt.Println(<-ran)
	// Output:
	// Hello, NATS <nil>
	// <nil>
}

func greeterMux() *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("Hello, "), req...), nil
	})
	return mux
}
