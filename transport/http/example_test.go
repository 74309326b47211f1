package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/dancinggopher/micro"
	microhttp "github.com/dancinggopher/micro/transport/http"
)

type helloRequest struct {
	Name string `json:"name"`
}

type helloReply struct {
	Message string `json:"message"`
}

func hello(_ context.Context, req helloRequest) (helloReply, error) {
	if req.Name == "" {
		return helloReply{}, micro.NewError(micro.InvalidArgument, "name is required")
	}
	return helloReply{Message: "Hello, " + req.Name + "!"}, nil
}

// A Server serves the Mux on its own listener; a Client calls it with
// micro's error model.
func Example() {
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.JSON(hello))
	srv := microhttp.NewServer(mux, microhttp.WithAddress("127.0.0.1:0"))
	go srv.Start(context.Background())
	defer srv.Stop(context.Background())
	<-srv.Ready()

	client, err := microhttp.NewClient(srv.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := micro.WithHeader(context.Background(), "content-type", "application/json")
	resp, err := client.Call(ctx, "greeter", "hello", []byte(`{"name":"World"}`))
	fmt.Printf("%s %v\n", resp, err)
	_, err = client.Call(ctx, "greeter", "hello", []byte(`{}`))
	fmt.Println(micro.CodeOf(err), err)
	// Output:
	// {"message":"Hello, World!"} <nil>
	// InvalidArgument InvalidArgument: name is required
}

// A Handler mounts micro's routes on an http.ServeMux of your own; any HTTP
// client calls them as curl or a browser's fetch does, and reads micro's
// errors as Connect's JSON:
//
//	curl --json '{"name":"World"}' localhost:8080/api/greeter/hello
func ExampleNewHandler() {
	mux := micro.NewMux()
	mux.Handle("greeter", "hello", micro.JSON(hello))
	web := http.NewServeMux()
	web.Handle("/api/", microhttp.NewHandler(mux, microhttp.WithPrefix("api")))
	web.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "home page") })
	srv := httptest.NewServer(web)
	defer srv.Close()

	for _, body := range []string{`{"name":"World"}`, `{}`} {
		resp, err := http.Post(srv.URL+"/api/greeter/hello", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		if resp.StatusCode == http.StatusOK {
			fmt.Println()
		}
	}
	// Output:
	// 200 application/json {"message":"Hello, World!"}
	// 400 application/json {"code":"invalid_argument","message":"name is required"}
}
