//go:build grpc || !(grpc || nats || kafka || http || jetstream)

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func cli(stdin string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &o, &e)
	return o.String(), e.String(), code
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"get", "a", "b"},
		{"call", "only-namespace"},
		{"call", "a", "b", "c", "d"},
		{"call", "-H", "novalue", "a", "b"},
		{"call", "-transport", "carrier-pigeon", "a", "b"},
	} {
		if _, stderr, code := cli("", args...); code != 2 || stderr == "" {
			t.Errorf("micro %q: exit %d, stderr %q; want exit 2 with a message", args, code, stderr)
		}
	}
}

func TestCall(t *testing.T) {
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "echo", func(ctx context.Context, req []byte) ([]byte, error) {
		return append([]byte(micro.RequestInfoFrom(ctx).Header.Get("x-who")+":"), req...), nil
	})
	srv := grpc.NewServer(mux, grpc.WithAddress("127.0.0.1:0"))
	microtest.Serve(t, nil, srv)
	addr := srv.Addr().String()

	if out, errOut, code := cli("", "call", "-addr", addr, "-H", "X-Who=ann", "greeter", "echo", "hi"); code != 0 || out != "ann:hi\n" {
		t.Errorf("call = %q, stderr %q, exit %d", out, errOut, code)
	}
	if out, _, code := cli("from stdin", "call", "-addr", addr, "greeter", "echo", "-"); code != 0 || out != ":from stdin\n" {
		t.Errorf("call with stdin = %q, exit %d", out, code)
	}
	if out, errOut, code := cli("", "call", "-addr", addr, "greeter", "nope"); code != 1 || out != "" ||
		errOut != "NotFound: no service \"nope\" in namespace \"greeter\"\n" {
		t.Errorf("call unknown = %q, stderr %q, exit %d", out, errOut, code)
	}
	if _, errOut, code := cli("", "send", "-addr", addr, "greeter", "echo", "x"); code != 0 {
		t.Errorf("send: stderr %q, exit %d", errOut, code)
	}
}
