// Command greeter is a micro service with the routes greeter.hello,
// greeter.echo and greeter.relay (hello, called in process), served over
// every transport the binary was built with.
//
//	go run ./examples/greeter                   # gRPC on :50051, embedded NATS on :4222
//	go run ./examples/greeter -kafka embedded   # and an embedded Kafka broker on :9092
//	go run -tags nats ./examples/greeter        # a binary with NATS only
//	go run ./examples/greeter -otel-stdout      # and print OpenTelemetry traces
//
// Each transport has a flag; "off" disables it. It logs what it serves where
// to stderr and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/otelmicro"
)

// A transport is one way to serve the greeter; each is compiled in by its
// own file, chosen with build tags.
type transport struct {
	name  string // also the flag's name
	value string // the flag's default
	usage string
	// serve returns the server for the flag's value (never "off"), a func
	// that tells where it listens once it is ready, and a func releasing
	// what serve started (an embedded broker).
	serve func(value string, mux *micro.Mux, log *slog.Logger) (srv micro.Server, where func() string, release func(), err error)
}

var transports []transport

// embedded reports whether value asks for an embedded broker, and where:
// "embedded" means def, "embedded:HOST:PORT" means HOST:PORT.
func embedded(value, def string) (addr string, ok bool) {
	if value == "embedded" {
		return def, true
	}
	return strings.CutPrefix(value, "embedded:")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "greeter:", err)
		}
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("greeter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "greeter", "service name: the Kafka consumer group and the NATS discovery name")
	otelStdout := fs.Bool("otel-stdout", false, "print OpenTelemetry traces to stdout (OTEL_EXPORTER_OTLP_ENDPOINT sends them over OTLP)")
	values := make([]*string, len(transports))
	for i, t := range transports {
		values[i] = fs.String(t.name, t.value, t.usage)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	log := slog.New(otelmicro.NewLogHandler(slog.NewTextHandler(stderr, nil)))
	tel, err := startTelemetry(ctx, log, *name, *otelStdout)
	if err != nil {
		return err
	}
	defer tel.shutdown()
	mux := micro.NewMux(micro.WithLogger(log))
	mux.Use(tel.server...)
	register(mux)
	local := relay(mux, log, tel.client...)

	var servers []micro.Server
	var wheres []func() string
	var names []string
	for i, t := range transports {
		if *values[i] == "off" {
			continue
		}
		srv, where, release, err := t.serve(*values[i], mux, log)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if release != nil {
			defer release()
		}
		servers, wheres, names = append(servers, srv), append(wheres, where), append(names, t.name)
	}
	if len(servers) == 0 {
		return errors.New("every transport is off")
	}
	servers = append(servers, local)

	svc := micro.NewService(*name, micro.WithLogger(log))
	go func() {
		select {
		case <-svc.Ready():
			for i, where := range wheres {
				log.Info("serving", "transport", names[i], "address", where(), "routes", fmt.Sprint(mux.Routes()))
			}
		case <-ctx.Done():
		}
	}()
	return svc.Run(ctx, servers...)
}
