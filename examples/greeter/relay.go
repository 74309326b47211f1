package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// relay registers greeter.relay on mux: it greets by calling greeter.hello
// in process, through mw, so that one request crosses two transports (the
// one it came in on, then inproc) and its trace shows both hops. It returns
// the in-process server those calls go to, for the Service to run.
func relay(mux *micro.Mux, log *slog.Logger, mw ...micro.ClientMiddleware) micro.Server {
	srv := inproc.NewServer(mux)
	client := micro.WrapClient(inproc.NewClient(srv), mw...)
	mux.Handle("greeter", "relay", micro.JSON(func(ctx context.Context, req HelloRequest) (HelloReply, error) {
		log.InfoContext(ctx, "relaying", "to", "greeter.hello")
		var reply HelloReply
		body, err := json.Marshal(req)
		if err != nil {
			return reply, err
		}
		resp, err := client.Call(ctx, "greeter", "hello", body)
		if err != nil {
			return reply, err
		}
		return reply, json.Unmarshal(resp, &reply)
	}))
	return srv
}
