package kafkatest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// A test of a service starts a Kafka cluster with one call; it is closed
// when the test ends.
func ExampleStart() {
	testGreeter := func(t *testing.T) {
		kc := kafkatest.Start(t, kafkatest.WithTopics(4, "greeter"), kafkatest.WithMaxMessageBytes(9<<20))
		srv := kafka.NewServer(greeterMux(), kafka.WithBrokers(kc.Addrs()...))
		// ... start srv, call it with kafka.NewClient(kafka.WithBrokers(kc.Addrs()...)),
		// or restart the brokers under it with kc.Restart().
		_ = srv
	}
	_ = testGreeter
}

// Where there is no testing.TB, as in TestMain, New starts a cluster that
// the caller closes.
func ExampleNew() {
	kc, err := kafkatest.New(kafkatest.WithTopics(2, "greeter"))
	if err != nil {
		panic(err)
	}
	defer kc.Close()

	svc := micro.NewService("greeter")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, kafka.NewServer(greeterMux(), kafka.WithBrokers(kc.Addrs()...))) }()
	<-svc.Ready()

	c, err := kafka.NewClient(kafka.WithBrokers(kc.Addrs()...))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Call(callCtx, "greeter", "hello", []byte("Kafka"))
	fmt.Println(string(resp), err)

	stop()
	fmt.Println(<-ran)
	// Output:
	// Hello, Kafka <nil>
	// <nil>
}

func greeterMux() *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("Hello, "), req...), nil
	})
	return mux
}
