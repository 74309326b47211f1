package kafka_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	"github.com/dancinggopher/micro/transport/kafka"
)

// Serve a Mux over Kafka in a Service, whose name is the consumer group,
// and call it. The cluster is franz-go's in-process kfake, started by
// kafkatest; point WithBrokers at a real one instead.
func Example() {
	cluster, err := kafkatest.New(kafkatest.WithTopics(3, "greeter"))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	brokers := kafka.WithBrokers(cluster.Addrs()...)

	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(_ context.Context, req []byte) ([]byte, error) {
		return []byte("hello, " + string(req)), nil
	})
	svc := micro.NewService("greeter")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, kafka.NewServer(mux, brokers)) }()
	<-svc.Ready()

	client, err := kafka.NewClient(brokers)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := client.Call(callCtx, "greeter", "hello", []byte("kafka"))
	fmt.Println(string(resp), err)

	// One-way: returns once the broker has the record.
	err = client.Send(kafka.WithKey(callCtx, []byte("user-7")), "greeter", "hello", []byte("later"))
	fmt.Println(err)

	stop()
	fmt.Println(<-ran)
	// Output:
	// hello, kafka <nil>
	// <nil>
	// <nil>
}
