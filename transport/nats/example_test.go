package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

type helloRequest struct {
	Name string `json:"name"`
}

func Example() {
	// An embedded nats-server, as a test would have; a deployment points
	// WithURL at its NATS cluster instead.
	ns, err := natstest.New()
	if err != nil {
		panic(err)
	}
	defer ns.Close()
	url := ns.URL()

	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.JSON(func(_ context.Context, req helloRequest) (string, error) {
		return "Hello, " + req.Name + "!", nil
	}))
	svc := micro.NewService("greeter")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, nats.NewServer(mux, nats.WithURL(url))) }()
	<-svc.Ready()

	c, err := nats.NewClient(nats.WithURL(url))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	// The same as: nats req greeter.hello '{"name":"World"}'
	resp, err := c.Call(ctx, "greeter", "hello", []byte(`{"name":"World"}`))
	fmt.Println(string(resp), err)
	_, err = c.Call(ctx, "greeter", "bye", nil)
	fmt.Println(err)

	// What `nats micro info greeter` shows.
	nc, err := natsgo.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	r, err := nc.Request("$SRV.INFO.greeter", nil, time.Second)
	if err != nil {
		panic(err)
	}
	var info natsmicro.Info
	if err := json.Unmarshal(r.Data, &info); err != nil {
		panic(err)
	}
	fmt.Println(info.Name, info.Endpoints[0].Subject, info.Endpoints[0].QueueGroup)

	stop()
	fmt.Println(<-ran)
	// Output:
	// "Hello, World!" <nil>
	// NotFound: no service "bye" in namespace "greeter"
	// greeter greeter.hello micro
	// <nil>
}
