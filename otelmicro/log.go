package otelmicro

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogHandler returns a handler that adds trace_id and span_id, in W3C
// hex, to every record logged with a ctx that carries a valid span
// context (a handler's ctx under [Middleware], say), then passes it to h.
// The attributes go where the record's own do, inside any group opened
// with WithGroup. Records logged without such a ctx pass unchanged. It is
// as safe for concurrent use as h.
func NewLogHandler(h slog.Handler) slog.Handler {
	if h == nil {
		panic("otelmicro: NewLogHandler with a nil slog.Handler")
	}
	return logHandler{h}
}

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.next.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.next.WithGroup(name)} }
