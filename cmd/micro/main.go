// Command micro calls micro services from the command line, over any
// transport it was built with.
//
//	micro call [-transport grpc|nats|kafka] [-addr ADDR] [-H key=value]... [-timeout 5s] NAMESPACE SERVICE [DATA | -]
//	micro send [same flags] NAMESPACE SERVICE [DATA | -]
//
// call prints the reply to stdout; send delivers one way. DATA is the request
// body; "-" reads it from stdin; without it the body is empty. An error
// prints "CODE: message" to stderr and exits 1; a usage error exits 2. The
// defaults reach `go run ./examples/greeter`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dancinggopher/micro"
	kit "github.com/dancinggopher/micro/transport"
)

// A dialer connects a Client over one transport; each is compiled in by its
// own file, chosen with build tags.
type dialer struct {
	name string
	addr string // the default address: where the greeter listens
	dial func(addr string) (micro.Client, error)
}

var dialers []dialer

// preferred orders the transports for the default of -transport.
var preferred = []string{"grpc", "nats", "kafka"}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// headers collects repeated -H key=value flags.
type headers [][2]string

func (h *headers) String() string { return fmt.Sprint(*h) }
func (h *headers) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("header %q is not key=value", s)
	}
	*h = append(*h, [2]string{k, v})
	return nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: micro call|send [-transport T] [-addr ADDR] [-H key=value]... [-timeout D] NAMESPACE SERVICE [DATA | -]")
	}
	if len(args) == 0 || (args[0] != "call" && args[0] != "send") {
		usage()
		return 2
	}
	cmd := args[0]
	names := make([]string, 0, len(dialers))
	for _, d := range dialers {
		names = append(names, d.name)
	}
	slices.SortFunc(names, func(a, b string) int { return slices.Index(preferred, a) - slices.Index(preferred, b) })

	fs := flag.NewFlagSet("micro "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(); fs.PrintDefaults() }
	transport := fs.String("transport", names[0], "transport: "+strings.Join(names, ", "))
	addr := fs.String("addr", "", "server address (default: the greeter's for the transport)")
	timeout := fs.Duration("timeout", 5*time.Second, "deadline of the call")
	var hs headers
	fs.Var(&hs, "H", "request header key=value (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		usage()
		return 2
	}
	i := slices.IndexFunc(dialers, func(d dialer) bool { return d.name == *transport })
	if i < 0 {
		fmt.Fprintf(stderr, "micro: transport %q is not built in (have %s)\n", *transport, strings.Join(names, ", "))
		return 2
	}
	d := dialers[i]
	if *addr == "" {
		*addr = d.addr
	}
	var data []byte
	if fs.NArg() == 3 {
		data = []byte(fs.Arg(2))
		if fs.Arg(2) == "-" {
			var err error
			if data, err = io.ReadAll(stdin); err != nil {
				fmt.Fprintln(stderr, "micro: read stdin:", err)
				return 1
			}
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for _, h := range hs {
		ctx = micro.WithHeader(ctx, h[0], h[1])
	}
	client, err := d.dial(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "micro: connect to %s over %s: %v\n", *addr, d.name, err)
		return 1
	}
	defer client.Close()

	ns, svc := fs.Arg(0), fs.Arg(1)
	if cmd == "send" {
		err = client.Send(ctx, ns, svc, data)
	} else {
		var resp []byte
		if resp, err = client.Call(ctx, ns, svc, data); err == nil {
			stdout.Write(resp)
			if len(resp) > 0 && resp[len(resp)-1] != '\n' {
				fmt.Fprintln(stdout)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, kit.ErrorOf(err))
		return 1
	}
	return 0
}
