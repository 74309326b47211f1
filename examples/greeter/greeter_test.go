package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	kit "github.com/dancinggopher/micro/transport"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGreeter(t *testing.T) {
	mux := micro.NewMux()
	register(mux)
	srv := inproc.NewServer(mux)
	go srv.Start(context.Background())
	t.Cleanup(func() { srv.Stop(context.Background()) })
	<-srv.Ready()
	c := inproc.NewClient(srv)

	for _, tc := range []struct {
		service, req, resp string
		code               micro.Code
		msg                string
	}{
		{"hello", `{"name":"World"}`, `{"message":"Hello, World!"}`, micro.OK, ""},
		{"hello", `{}`, "", micro.InvalidArgument, "name is required"},
		{"hello", ``, "", micro.InvalidArgument, "name is required"},
		{"hello", `{"name":""}`, "", micro.InvalidArgument, "name is required"},
		{"hello", `[1]`, "", micro.InvalidArgument, ""},
		{"echo", "\x00bytes\xff", "\x00bytes\xff", micro.OK, ""},
	} {
		resp, err := c.Call(t.Context(), "greeter", tc.service, []byte(tc.req))
		e := kit.ErrorOf(err)
		switch {
		case tc.code == micro.OK && (err != nil || string(resp) != tc.resp):
			t.Errorf("%s(%q) = %q, %v; want %q", tc.service, tc.req, resp, err, tc.resp)
		case tc.code != micro.OK && (e == nil || e.Code != tc.code || tc.msg != "" && e.Message != tc.msg):
			t.Errorf("%s(%q) error = %v; want %v %q", tc.service, tc.req, err, tc.code, tc.msg)
		}
	}
}

// TestBuildTags checks that each transport's tag links that transport's
// library and no other's, in the greeter and in the CLI.
func TestBuildTags(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	libs := map[string]string{
		"grpc":      "google.golang.org/grpc",
		"nats":      "github.com/nats-io/nats.go",
		"kafka":     "github.com/twmb/franz-go/pkg/kgo",
		"http":      "github.com/dancinggopher/micro/transport/http",
		"jetstream": "github.com/nats-io/nats.go/jetstream",
	}
	// What each tag must link; anything else in libs it must not.
	want := map[string][]string{
		"grpc": {"grpc"}, "nats": {"nats"}, "kafka": {"kafka"}, "http": {"http"},
		"jetstream": {"jetstream", "nats"}, // JetStream is nats.go's
	}
	for _, pkg := range []string{".", "../../cmd/micro"} {
		for tag := range want {
			out, err := exec.Command("go", "list", "-deps", "-tags", tag, pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -tags %s %s: %v\n%s", tag, pkg, err, out)
			}
			deps := strings.Fields(string(out))
			for other, lib := range libs {
				has := slices.Contains(deps, lib) || other != "nats" && slices.ContainsFunc(deps, func(d string) bool { return strings.HasPrefix(d, lib+"/") })
				if has != slices.Contains(want[tag], other) {
					t.Errorf("go list -deps -tags %s %s: links %s = %v", tag, pkg, lib, has)
				}
			}
		}
	}
}
