package main

import (
	"context"

	"github.com/dancinggopher/micro"
)

// HelloRequest is the request of greeter.hello.
type HelloRequest struct {
	Name string `json:"name"`
}

// HelloReply is the reply of greeter.hello.
type HelloReply struct {
	Message string `json:"message"`
}

// hello greets by name; a missing or empty name is InvalidArgument.
func hello(_ context.Context, req HelloRequest) (HelloReply, error) {
	if req.Name == "" {
		return HelloReply{}, micro.NewError(micro.InvalidArgument, "name is required")
	}
	return HelloReply{Message: "Hello, " + req.Name + "!"}, nil
}

// echo answers its request bytes unchanged.
func echo(_ context.Context, req []byte) ([]byte, error) { return req, nil }

// register adds the greeter's routes to mux: all of its business logic.
func register(mux *micro.Mux) {
	mux.Handle("greeter", "hello", micro.JSON(hello))
	mux.HandleFunc("greeter", "echo", echo)
}
