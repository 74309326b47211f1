package transport

import (
	"context"
	"log/slog"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// NewContext returns a copy of ctx carrying info, which
// [micro.RequestInfoFrom] then returns. [Dispatcher.Serve] calls it; a
// transport that runs handlers some other way calls it before
// [micro.Mux.Serve].
func NewContext(ctx context.Context, info *micro.RequestInfo) context.Context {
	return context.WithValue(ctx, ctxkey.Info, info)
}

// ServiceName returns the name of the [micro.Service] whose Run started the
// server that ctx was given to, or "". Transports use it for defaults: the
// Kafka consumer group, the NATS discovery name.
func ServiceName(ctx context.Context) string {
	if s, ok := ctx.Value(ctxkey.Service).(*ctxkey.ServiceInfo); ok {
		return s.Name
	}
	return ""
}

// Logger returns the logger of the [micro.Service] whose Run started the
// server that ctx was given to, or a logger that discards. Transports log to
// it unless given their own.
func Logger(ctx context.Context) *slog.Logger {
	if s, ok := ctx.Value(ctxkey.Service).(*ctxkey.ServiceInfo); ok && s.Logger != nil {
		return s.Logger
	}
	return discard
}

var discard = slog.New(slog.DiscardHandler)

// ValidName reports whether s can name a namespace or a service: one or
// more of [A-Za-z0-9_-], so that NATS subjects, Kafka topics, HTTP paths and
// gRPC fields carry it unchanged.
func ValidName(s string) bool { return ctxkey.ValidName(s) }
