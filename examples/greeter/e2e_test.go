package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// build compiles the greeter and the micro CLI, with every transport, into
// a temporary directory.
func build(t *testing.T) (greeter, cli string) {
	t.Helper()
	dir := t.TempDir()
	greeter, cli = filepath.Join(dir, "greeter"), filepath.Join(dir, "micro")
	for out, pkg := range map[string]string{greeter: ".", cli: "../../cmd/micro"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return greeter, cli
}

var serving = regexp.MustCompile(`msg=serving transport=(\S+) address=(\S+)`)

// TestEndToEnd runs the greeter with every transport on free ports, calls
// it through the CLI over each, then stops it with SIGTERM.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the programs")
	}
	greeter, cli := build(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, greeter, "-name", "e2e",
		"-grpc", "127.0.0.1:0", "-nats", "embedded:127.0.0.1:0", "-kafka", "embedded:127.0.0.1:0", "-http", "127.0.0.1:0", "-jetstream", "embedded:127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logs bytes.Buffer
	addrs := make(chan [2]string, 5)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- [2]string{m[1], m[2]}
			}
		}
		exited <- cmd.Wait()
	}()
	where := map[string]string{}
	for len(where) < 5 {
		select {
		case a := <-addrs:
			where[a[0]] = a[1]
		case err := <-exited:
			t.Fatalf("greeter exited before serving: %v\n%s", err, logs.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			t.Fatalf("greeter not serving all transports: %v", where)
		}
	}

	for _, transport := range []string{"grpc", "nats", "kafka", "http", "jetstream"} {
		t.Run(transport, func(t *testing.T) {
			call := func(stdin string, args ...string) (stdout, stderr string, code int) {
				full := append([]string{args[0], "-transport", transport, "-addr", where[transport], "-timeout", "20s"}, args[1:]...)
				c := exec.CommandContext(ctx, cli, full...)
				c.Stdin = strings.NewReader(stdin)
				var o, e bytes.Buffer
				c.Stdout, c.Stderr = &o, &e
				err := c.Run()
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					return o.String(), e.String(), exit.ExitCode()
				} else if err != nil {
					t.Fatalf("micro %v: %v", full, err)
				}
				return o.String(), e.String(), 0
			}
			if out, errOut, code := call("", "call", "greeter", "hello", `{"name":"World"}`); code != 0 || out != "{\"message\":\"Hello, World!\"}\n" {
				t.Errorf("call hello = %q, stderr %q, exit %d", out, errOut, code)
			}
			if out, errOut, code := call("bytes from stdin", "call", "-H", "x-k=v", "greeter", "echo", "-"); code != 0 || out != "bytes from stdin\n" {
				t.Errorf("call echo = %q, stderr %q, exit %d", out, errOut, code)
			}
			if out, errOut, code := call("", "call", "greeter", "hello", `{}`); code != 1 || errOut != "InvalidArgument: name is required\n" || out != "" {
				t.Errorf("call hello {} = %q, stderr %q, exit %d; want InvalidArgument and exit 1", out, errOut, code)
			}
			if _, errOut, code := call("", "call", "greeter", "nope", ""); code != 1 || !strings.HasPrefix(errOut, "NotFound: ") {
				t.Errorf("call greeter.nope: stderr %q, exit %d; want NotFound and exit 1", errOut, code)
			}
			if _, errOut, code := call("", "send", "greeter", "echo", "one way"); code != 0 {
				t.Errorf("send echo: stderr %q, exit %d", errOut, code)
			}
		})
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("greeter exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatal("greeter did not exit after SIGTERM")
	}
}

// TestPortTaken checks that the greeter exits non-zero, naming the problem,
// when its port is in use.
func TestPortTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the programs")
	}
	greeter, _ := build(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, args := range [][]string{
		{"-grpc", l.Addr().String(), "-nats", "off", "-http", "off"},
		{"-grpc", "off", "-nats", "embedded:" + l.Addr().String(), "-http", "off"},
		{"-grpc", "off", "-nats", "off", "-http", "off", "-kafka", "embedded:" + l.Addr().String()},
		{"-grpc", "off", "-nats", "off", "-http", l.Addr().String()},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		var errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, greeter, args...)
		cmd.Stderr, cmd.Stdout = &errOut, io.Discard
		err := cmd.Run()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errOut.String(), "address already in use") {
			t.Errorf("greeter %v: %v, stderr:\n%s\nwant exit 1 naming the address in use", args, err, errOut.String())
		}
	}
}
